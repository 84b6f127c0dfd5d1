"""Hostile input: a corpus of bad bulk payloads, slow and truncated bodies, and property-based
requests against every operation of /openapi.json."""

from __future__ import annotations

import contextlib
import gzip
import json
import socket
import threading
import time
import zlib

import pytest

from conftest import BACKEND
from db_checks import device_references, measurement_count
from harness import Figures, ServerProcess, Tenant, database, make_tenant

PATH_FORM = "/deviceRef/hostile/registerRef/main/measurements/_bulk_create"
BODY_FORM = "/measurements/_bulk_create"
OK = '{"readAt": "2024-01-01T00:00:00Z", "value": 1}'


def _bomb() -> bytes:
    """About 1 MB of gzip that inflates to 1 GiB of zeros."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    chunk = bytes(1 << 20)
    return b"".join([*(compressor.compress(chunk) for _ in range(1024)), compressor.flush()])


def corpus() -> dict[str, tuple[str, bytes, dict[str, str]]]:
    """name -> (path, body, headers). Every one must be refused with a 4xx, nothing stored."""
    json_type = {"Content-Type": "application/json"}

    def path_form(text: str) -> tuple[str, bytes, dict[str, str]]:
        return PATH_FORM, text.encode(), json_type

    def body_form(measurements: str) -> tuple[str, bytes, dict[str, str]]:
        text = (
            f'{{"deviceReference": "hostile", "registerReference": "main", "measurements": {measurements}}}'
        )
        return BODY_FORM, text.encode(), json_type

    cases = {
        "NaN": path_form('[{"readAt": "2024-01-01T00:00:00Z", "value": NaN}]'),
        "Infinity": path_form('[{"readAt": "2024-01-01T00:00:00Z", "value": Infinity}]'),
        "-Infinity": path_form('[{"readAt": "2024-01-01T00:00:00Z", "value": -Infinity}]'),
        "1e400": path_form('[{"readAt": "2024-01-01T00:00:00Z", "value": 1e400}]'),
        "400 digits": path_form('[{"readAt": "2024-01-01T00:00:00Z", "value": ' + "9" * 400 + "}]"),
        "400 decimals": path_form('[{"readAt": "2024-01-01T00:00:00Z", "value": 0.' + "1" * 400 + "}]"),
        "value 1e12": path_form('[{"readAt": "2024-01-01T00:00:00Z", "value": 1000000000000}]'),
        "7 decimals": path_form('[{"readAt": "2024-01-01T00:00:00Z", "value": 1.0000001}]'),
        "value as string": path_form('[{"readAt": "2024-01-01T00:00:00Z", "value": "1"}]'),
        "value true": path_form('[{"readAt": "2024-01-01T00:00:00Z", "value": true}]'),
        "value null": path_form('[{"readAt": "2024-01-01T00:00:00Z", "value": null}]'),
        "nested junk": path_form('[{"readAt": "2024-01-01T00:00:00Z", "value": {"a": [[{"b": []}]]}}]'),
        "deep nesting": path_form("[" * 100_000 + "]" * 100_000),
        "deep nesting in body form": body_form("[" * 50_000 + "]" * 50_000),
        "object instead of list": path_form(OK),
        "null body": path_form("null"),
        "empty body": path_form(""),
        "truncated JSON": path_form("[" + OK[:-5]),
        "trailing garbage": path_form(f"[{OK}] x"),
        "invalid UTF-8": (PATH_FORM, b'[{"readAt": "2024-01-01T00:00:00Z\xff\xfe", "value": 1}]', json_type),
        "lone surrogate": path_form('[{"readAt": "2024-01-01T00:00:00\\ud800Z", "value": 1}]'),
        "NUL in string": path_form('[{"readAt": "2024-01-01T00:00:00Z\\u0000", "value": 1}]'),
        "no offset": path_form('[{"readAt": "2024-01-01T00:00:00", "value": 1}]'),
        "date only": path_form('[{"readAt": "2024-01-01", "value": 1}]'),
        "year 0": path_form('[{"readAt": "0000-01-01T00:00:00Z", "value": 1}]'),
        "year 10000": path_form('[{"readAt": "10000-01-01T00:00:00Z", "value": 1}]'),
        "before 2000": path_form('[{"readAt": "1999-12-31T23:59:59Z", "value": 1}]'),
        "far future": path_form('[{"readAt": "2999-01-01T00:00:00Z", "value": 1}]'),
        "month 13": path_form('[{"readAt": "2024-13-01T00:00:00Z", "value": 1}]'),
        "offset +25:00": path_form('[{"readAt": "2024-01-01T00:00:00+25:00", "value": 1}]'),
        "epoch number as readAt": path_form('[{"readAt": 1704067200, "value": 1}]'),
        "duplicate keys": path_form('[{"readAt": "2024-01-01T00:00:00Z", "value": 1, "value": 2}]'),
        "duplicate instants": path_form(
            '[{"readAt": "2024-01-01T00:00:00Z", "value": 1},'
            ' {"readAt": "2024-01-01T01:00:00+01:00", "value": 2}]'
        ),
        "missing value": path_form('[{"readAt": "2024-01-01T00:00:00Z"}]'),
        "body form without register": (
            BODY_FORM,
            b'{"deviceReference": "hostile", "measurements": [' + OK.encode() + b"]}",
            json_type,
        ),
        "body form NaN": body_form('[{"readAt": "2024-01-01T00:00:00Z", "value": NaN}]'),
        "huge reference": (
            BODY_FORM,
            json.dumps(
                {"deviceReference": "x" * 100_000, "registerReference": "m", "measurements": []}
            ).encode(),
            json_type,
        ),
        "50 MB body": path_form("[" + ",".join([OK] * (50 * 1024 * 1024 // (len(OK) + 1))) + "]"),
        "gzip bomb": (PATH_FORM, _bomb(), {**json_type, "Content-Encoding": "gzip"}),
        "not gzip": (PATH_FORM, b"[" + OK.encode() + b"]", {**json_type, "Content-Encoding": "gzip"}),
        "truncated gzip": (
            PATH_FORM,
            gzip.compress(b"[" + OK.encode() + b"]")[:-9],
            {**json_type, "Content-Encoding": "gzip"},
        ),
        "brotli": (PATH_FORM, b"[]", {**json_type, "Content-Encoding": "br"}),
        "text/plain": (PATH_FORM, b"[" + OK.encode() + b"]", {"Content-Type": "text/plain"}),
        "form encoded": (
            PATH_FORM,
            b"readAt=2024-01-01T00:00:00Z&value=1",
            {"Content-Type": "application/x-www-form-urlencoded"},
        ),
        "multipart": (
            PATH_FORM,
            b"--x\r\n\r\n[]\r\n--x--",
            {"Content-Type": "multipart/form-data; boundary=x"},
        ),
        "XML": (PATH_FORM, b"<readings/>", {"Content-Type": "application/xml"}),
        "UTF-16 JSON": (PATH_FORM, ("[" + OK + "]").encode("utf-16"), json_type),
    }
    return cases


CORPUS = corpus()


@pytest.fixture(scope="module")
def hostile_server(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """One server for the corpus (each case checks that nothing was written)."""
    from tests.conftest import throwaway_database

    folder = tmp_path_factory.mktemp("hostile")
    with throwaway_database(folder) as url:
        process = ServerProcess(url, folder / "data")
        process.start()
        db = database(process)
        try:
            yield process, db, make_tenant(process, db)
        finally:
            process.kill()
            db.dispose()


@pytest.mark.parametrize("name", list(CORPUS))
def test_a_bad_bulk_payload_is_refused_with_our_error_shape_and_nothing_is_written(
    name: str, hostile_server: tuple[ServerProcess, object, Tenant]
) -> None:
    server, db, tenant = hostile_server
    path, body, headers = CORPUS[name]
    readings_before = measurement_count(db, tenant.organization_id)  # type: ignore[arg-type]
    devices_before = device_references(db, tenant.organization_id)  # type: ignore[arg-type]
    with tenant.http(server) as http:
        response = http.post(path, content=body, headers=headers)
    assert 400 <= response.status_code < 500, (response.status_code, response.text[:500])
    error = response.json()
    assert isinstance(error.get("error"), str) and isinstance(error.get("message"), str), error
    assert isinstance(error.get("details"), list)
    assert measurement_count(db, tenant.organization_id) == readings_before  # type: ignore[arg-type]
    assert device_references(db, tenant.organization_id) == devices_before  # type: ignore[arg-type]


def test_the_corpus_is_counted(figures: Figures) -> None:
    figures.record("bad_inputs", backend=BACKEND, payloads=len(CORPUS), names=sorted(CORPUS))


# -- slow and truncated bodies ----------------------------------------------------------------
def test_slowloris_clients_and_truncated_bodies_do_not_block_other_clients(
    server: ServerProcess, figures: Figures
) -> None:
    db = database(server)
    tenant = make_tenant(server, db)
    stop = threading.Event()
    sockets: list[socket.socket] = []
    head = (
        f"POST {PATH_FORM} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {tenant.access_token}\r\n"
        "Content-Type: application/json\r\nContent-Length: 1000000\r\n\r\n["
    ).encode()
    for i in range(200):
        s = socket.create_connection(("127.0.0.1", server.port))
        s.sendall(head if i % 2 else head[: len(head) // 2])  # half stop inside the headers
        sockets.append(s)

    def drip() -> None:
        while not stop.wait(1.0):
            for s in sockets:
                with contextlib.suppress(OSError):
                    s.sendall(b" ")

    dripper = threading.Thread(target=drip)
    dripper.start()
    try:
        latencies = []
        with tenant.http(server, timeout=10) as http:
            for i in range(20):
                began = time.perf_counter()
                response = http.post(PATH_FORM, json=[{"readAt": f"2024-01-01T00:{i:02d}:00Z", "value": i}])
                latencies.append(time.perf_counter() - began)
                assert response.status_code == 201, response.text
        # Truncated bodies: the connection closes before the declared length arrived.
        for s in sockets[:50]:
            s.close()
    finally:
        stop.set()
        dripper.join()
        for s in sockets:
            s.close()
    with tenant.http(server, timeout=10) as http:
        assert http.get("/healthz").status_code == 200
    assert measurement_count(db, tenant.organization_id) == 20
    figures.record(
        "slowloris",
        backend=BACKEND,
        slow_connections=len(sockets),
        other_client_max_ms=round(max(latencies) * 1000, 1),
    )
    assert max(latencies) < 5
    db.dispose()
