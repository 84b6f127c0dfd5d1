"""The end-of-run log scan (conftest's `no_secrets_in_server_logs`) finds what it looks for."""

from __future__ import annotations

from harness import ADMIN_PASSWORD, remember_secret, secret_leaks


def test_the_scan_finds_tokens_and_remembered_secrets_and_nothing_else() -> None:
    remember_secret("client-secret-handed-out-9f3a")
    log = "\n".join(
        [
            '{"msg": "POST /token 200"}',
            '{"msg": "bearer eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl"}',
            f'{{"msg": "login {ADMIN_PASSWORD}"}}',
            '{"msg": "client_secret=client-secret-handed-out-9f3a"}',
        ]
    )
    assert len(secret_leaks(log)) == 3
    assert secret_leaks('{"msg": "GET /devices 200"}') == []
