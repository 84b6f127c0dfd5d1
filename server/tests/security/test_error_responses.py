"""What hostile or unlucky requests get back: our error shape, the right status, no internals."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

import httpx
import psycopg
from sqlalchemy.exc import DataError, IntegrityError, OperationalError

from tests.conftest import LiveServer
from zevvy_server.web.errors import database_unavailable, nul_refused_by_database


def test_a_non_json_body_is_415_and_stores_nothing(
    live_server: LiveServer, api_token: Callable[..., str]
) -> None:
    token = api_token("device register measurement")
    with httpx.Client(
        base_url=live_server.url, headers={"Authorization": f"Bearer {token}"}, timeout=30
    ) as http:
        for content_type in ("text/plain", "application/x-www-form-urlencoded", "application/xml"):
            response = http.post(
                "/deviceRef/ct/registerRef/main/measurements/_bulk_create",
                content=b'[{"readAt": "2024-01-01T00:00:00Z", "value": 1}]',
                headers={"Content-Type": content_type},
            )
            assert response.status_code == 415, response.text
            assert response.json()["error"] == "unsupported_media_type"
        assert http.get("/deviceRef/ct/registerRef/main/measurements").status_code == 404
        accepted = http.post(
            "/deviceRef/ct/registerRef/main/measurements/_bulk_create",
            content=b'[{"readAt": "2024-01-01T00:00:00Z", "value": 1}]',
            headers={"Content-Type": "application/json; charset=utf-8"},
        )
        assert accepted.status_code == 201, accepted.text


def test_an_unreachable_or_locked_database_is_503_to_retry_but_a_constraint_error_is_not() -> None:
    refused = OperationalError("SELECT 1", {}, psycopg.OperationalError("connection failed: refused"))
    locked = OperationalError("BEGIN", {}, sqlite3.OperationalError("database is locked"))
    missing_table = OperationalError("SELECT", {}, sqlite3.OperationalError("no such table: x"))
    duplicate = IntegrityError("INSERT", {}, sqlite3.IntegrityError("UNIQUE constraint failed"))
    assert database_unavailable(refused) and database_unavailable(locked)
    assert not database_unavailable(missing_table) and not database_unavailable(duplicate)


def test_text_with_a_nul_refused_by_postgresql_is_bad_input_not_a_server_error() -> None:
    nul = DataError("SELECT", {}, psycopg.DataError("PostgreSQL text fields cannot contain NUL (0x00) bytes"))
    other = DataError("SELECT", {}, psycopg.DataError("value too long for type character varying(10)"))
    assert nul_refused_by_database(nul)
    assert not nul_refused_by_database(other) and not database_unavailable(nul)
