"""Hostile-client tests reuse the identity server's fixtures (clients, approvals, tokens)."""

from tests.api.conftest import api_token, approve, device_tokens, http, make_client

__all__ = ["api_token", "approve", "device_tokens", "http", "make_client"]
