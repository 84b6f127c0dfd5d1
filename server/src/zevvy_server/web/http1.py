"""The HTTP/1.1 server protocol: uvicorn's httptools protocol, minus its handling of upgrade offers.

httptools (llhttp) parses requests in C, several times faster than h11 (a one-reading import
costs about a tenth less of the server's CPU). But when a request offers to switch protocols
(``Connection: Upgrade`` with ``Upgrade: h2c``, which Java's default HTTP client sends over plain
http), httptools treats every byte after the head as the new protocol's: uvicorn never sees the
body. A server may ignore such an offer (RFC 9110, section 7.8) and answer the request in
HTTP/1.1, and that is what this protocol does for every offer but WebSocket: the bytes after the
head are fed to a new parser behind a head of our own that carries only the request's body framing
(its ``Content-Length`` or chunked ``Transfer-Encoding``). That parser hands the body to the
waiting request, and goes on with the connection's next requests.
"""

from __future__ import annotations

import httptools
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol


def _framing(headers: list[tuple[bytes, bytes]]) -> bytes:
    """The head of a request that has the same body framing as one with `headers`."""
    for name, value in headers:
        if name == b"transfer-encoding":
            return b"POST / HTTP/1.1\r\nTransfer-Encoding: " + value + b"\r\n\r\n"
    for name, value in headers:
        if name == b"content-length":
            return b"POST / HTTP/1.1\r\nContent-Length: " + value + b"\r\n\r\n"
    return b"POST / HTTP/1.1\r\nContent-Length: 0\r\n\r\n"


MAX_HEAD_BYTES = 64 * 1024  # a request's target and header names and values, together


class HeadTooLarge(Exception):
    """A request's line and headers passed `MAX_HEAD_BYTES`."""


class Http1Protocol(HttpToolsProtocol):
    """uvicorn's httptools protocol that answers requests offering a non-WebSocket upgrade as
    ordinary HTTP/1.1 requests, body included (see the module doc), and bounds the size of a
    request's line and headers, which llhttp does not: past `MAX_HEAD_BYTES` the answer is 431
    and the connection is closed."""

    _replaying = False  # the parser is reading our own head before an ignored upgrade's body
    _head_bytes = 0

    def _ignores_upgrade(self) -> bool:
        return self.parser.should_upgrade() and not self._should_upgrade()

    def _count(self, size: int) -> None:
        self._head_bytes += size
        if self._head_bytes > MAX_HEAD_BYTES:
            raise HeadTooLarge  # the parser stops with an error: 431 below

    def on_message_begin(self) -> None:
        if not self._replaying:
            self._head_bytes = 0
            super().on_message_begin()

    def on_url(self, url: bytes) -> None:
        if not self._replaying:
            self._count(len(url))
            super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        if not self._replaying:
            self._count(len(name) + len(value))
            super().on_header(name, value)

    def on_headers_complete(self) -> None:
        if not self._replaying:
            super().on_headers_complete()

    def on_message_complete(self) -> None:
        if self._replaying:
            self._replaying = False
        elif self._ignores_upgrade():
            return  # httptools ends the message at its head; the body is still to come
        super().on_message_complete()

    def data_received(self, data: bytes) -> None:
        self._unset_keepalive_if_required()
        while True:
            try:
                self.parser.feed_data(data)
            except httptools.HttpParserError:
                if self._head_bytes > MAX_HEAD_BYTES:
                    self._refuse(431, "Request header fields too large.")
                    return
                message = "Invalid HTTP request received."
                self.logger.warning(message)
                self.send_400_response(message)
            except httptools.HttpParserUpgrade as upgrade:
                if self._should_upgrade():
                    self.handle_websocket_upgrade()
                    return
                # The offer is ignored: what follows the head is this request's body, then the
                # connection's next requests, all HTTP/1.1 (fed again, by this loop).
                self.parser = httptools.HttpRequestParser(self)
                self.parser.set_dangerous_leniencies(lenient_data_after_close=True)
                self._replaying = True
                data = _framing(self.headers) + data[upgrade.args[0] :]
                continue
            return

    def _refuse(self, status: int, message: str) -> None:
        """Answer `status` with a plain-text `message` and close, as uvicorn's 400 does."""
        body = message.encode("ascii")
        head = [
            STATUS_LINE[status],
            *(name + b": " + value + b"\r\n" for name, value in self.server_state.default_headers),
        ]
        head.append(
            b"content-type: text/plain; charset=utf-8\r\ncontent-length: %d\r\nconnection: close\r\n\r\n"
            % len(body)
        )
        self.transport.write(b"".join(head) + body)
        self.transport.close()
