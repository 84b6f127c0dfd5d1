"""The HTTP/1.1 protocol the server runs (`web.http1`): requests that offer an upgrade to another
protocol than WebSocket are answered as ordinary requests, body included, and the connection
goes on. Raw sockets, so that the bytes on the wire are exactly the ones written here."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import BinaryIO
from urllib.parse import urlsplit

import pytest

from tests.conftest import LiveServer

FORM = b"client_id=zevvy-cli&scope=measurement"
OFFER = b"Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n"


@contextmanager
def connection(server: LiveServer) -> Iterator[tuple[socket.socket, BinaryIO]]:
    parts = urlsplit(server.url)
    sock = socket.create_connection((parts.hostname, parts.port), timeout=10)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    reader = sock.makefile("rb")
    try:
        yield sock, reader
    finally:
        reader.close()
        sock.close()


def response(reader: BinaryIO) -> tuple[int, bytes]:
    """The status and body of the next response on the connection."""
    status = int(reader.readline().split()[1])
    length = 0
    while (line := reader.readline()) not in (b"\r\n", b""):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    return status, reader.read(length)


def device_request(server: LiveServer, framing: bytes, body: bytes, *, offer: bool = True) -> bytes:
    path = f"/realms/{server.settings.realm}/protocol/openid-connect/auth/device".encode()
    head = b"POST " + path + b" HTTP/1.1\r\nHost: localhost\r\n" + (OFFER if offer else b"")
    head += b"Content-Type: application/x-www-form-urlencoded\r\n" + framing + b"\r\n"
    return head + body


def health_request(*, offer: bool = False) -> bytes:
    return b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n" + (OFFER if offer else b"") + b"\r\n"


def assert_device_code(status: int, body: bytes) -> None:
    assert status == 200, body
    assert json.loads(body)["user_code"]


def content_length(body: bytes) -> bytes:
    return b"Content-Length: %d\r\n" % len(body)


def test_a_body_after_an_h2c_offer_arrives_and_the_connection_goes_on(live_server: LiveServer) -> None:
    with connection(live_server) as (sock, reader):
        sock.sendall(device_request(live_server, content_length(FORM), FORM))
        assert_device_code(*response(reader))
        sock.sendall(health_request())
        assert response(reader)[0] == 200
        sock.sendall(device_request(live_server, content_length(FORM), FORM))
        assert_device_code(*response(reader))


def test_a_chunked_body_after_an_h2c_offer_arrives(live_server: LiveServer) -> None:
    half = len(FORM) // 2
    chunked = b"%x\r\n%s\r\n%x\r\n%s\r\n0\r\n\r\n" % (half, FORM[:half], len(FORM) - half, FORM[half:])
    with connection(live_server) as (sock, reader):
        sock.sendall(device_request(live_server, b"Transfer-Encoding: chunked\r\n", chunked))
        assert_device_code(*response(reader))
        sock.sendall(health_request())
        assert response(reader)[0] == 200


def test_a_body_sent_in_pieces_after_an_h2c_offer_arrives(live_server: LiveServer) -> None:
    request = device_request(live_server, content_length(FORM), FORM)
    cut = request.index(b"\r\n\r\n") + 4
    with connection(live_server) as (sock, reader):
        sock.sendall(request[:cut])
        for start in range(cut, len(request), 5):
            time.sleep(0.01)  # separate packets, so the server reads the body over several calls
            sock.sendall(request[start : start + 5])
        assert_device_code(*response(reader))


def test_requests_pipelined_behind_an_h2c_offer_are_answered_in_order(live_server: LiveServer) -> None:
    requests = device_request(live_server, content_length(FORM), FORM) + health_request() + health_request()
    with connection(live_server) as (sock, reader):
        sock.sendall(requests)
        assert_device_code(*response(reader))
        assert response(reader)[0] == 200
        assert response(reader)[0] == 200


def test_many_requests_offering_h2c_in_one_packet_are_all_answered(live_server: LiveServer) -> None:
    # Each offer makes the protocol start a new parser on the rest of the data it received.
    count = 1500
    with connection(live_server) as (sock, reader):
        sock.sendall(health_request(offer=True) * count)
        assert [response(reader)[0] for _ in range(count)] == [200] * count


@pytest.mark.parametrize("offer", [False, True], ids=["plain", "h2c offer"])
def test_a_request_without_a_body_is_answered_either_way(live_server: LiveServer, offer: bool) -> None:
    with connection(live_server) as (sock, reader):
        sock.sendall(health_request(offer=offer))
        assert response(reader)[0] == 200
        sock.sendall(health_request(offer=offer))
        assert response(reader)[0] == 200


def test_a_malformed_request_after_an_h2c_offer_gets_400(live_server: LiveServer) -> None:
    # A body framed as chunked whose chunk size is not hexadecimal.
    with connection(live_server) as (sock, reader):
        sock.sendall(
            device_request(live_server, b"Transfer-Encoding: chunked\r\n", b"zz\r\nabc\r\n0\r\n\r\n")
        )
        assert response(reader)[0] == 400


@pytest.mark.parametrize("where", ["header", "url"])
def test_a_head_over_64_kib_gets_431_and_the_server_goes_on(live_server: LiveServer, where: str) -> None:
    big = b"a" * (65 * 1024)
    if where == "header":
        request = b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Padding: " + big + b"\r\n\r\n"
    else:
        request = b"GET /healthz?padding=" + big + b" HTTP/1.1\r\nHost: localhost\r\n\r\n"
    with connection(live_server) as (sock, reader):
        sock.sendall(request)
        assert response(reader)[0] == 431
        assert reader.read() == b""  # closed
    with connection(live_server) as (sock, reader):
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Padding: " + b"a" * 60_000 + b"\r\n\r\n")
        assert response(reader)[0] == 200
