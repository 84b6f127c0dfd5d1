"""Typed server settings, read once at start-up from flags and ``ZEVVY_*`` variables.

Nothing else in the server reads the environment: `load_settings` builds one `Settings` object that
is passed to `create_app` and the command line. It refuses unsafe combinations (a public http URL
that is not loopback, a wildcard bind without a public URL) unless explicitly overridden.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

LOOPBACK_HOSTS = {"localhost", "127.0.0.1", "::1", "[::1]"}


def is_loopback(host: str) -> bool:
    """True for localhost and loopback addresses (127.0.0.0/8, ::1)."""
    host = host.strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class Settings(BaseSettings):
    """Every knob of the server; see docs/operations.md for each."""

    model_config = SettingsConfigDict(env_prefix="ZEVVY_", extra="ignore", frozen=True)

    host: str = "127.0.0.1"
    port: int = 8000
    data_dir: Path = Path("./zevvy-data")
    database_url: str = ""
    public_url: str = ""
    allow_insecure_public_url: bool = False
    trusted_proxies: str = ""
    realm: str = "zevvy"
    admin_password: str | None = Field(default=None, repr=False)
    secret_key: str | None = Field(default=None, repr=False)
    log_format: Literal["text", "json"] = "text"
    log_level: str = "info"
    metrics_addr: str = "127.0.0.1:9464"
    workers: int = 1

    # Token and session lifetimes (seconds); Keycloak's realm defaults where it has one.
    access_token_lifetime: int = 300
    authorization_code_lifetime: int = 60
    device_code_lifetime: int = 600
    device_poll_interval: int = 5
    session_idle: int = 1800
    session_max: int = 36000
    offline_idle: int = 30 * 24 * 3600
    refresh_grace: int = 30
    revocation_cache_seconds: float = 10.0
    console_session_idle: int = 8 * 3600

    # Abuse limits, counted in the database so every worker shares them.
    login_failures_per_account: int = 10
    login_failures_per_ip: int = 60
    user_code_failures_per_account: int = 10
    user_code_failures_per_ip: int = 60

    # Metering limits.
    max_readings_per_request: int = 100_000
    max_body_bytes: int = 16 * 1024 * 1024
    earliest_reading: str = "2000-01-01T00:00:00Z"
    max_future_seconds: int = 24 * 3600
    client_requests_per_minute: int = 6000

    @model_validator(mode="after")
    def _check(self) -> Settings:
        if self.public_url:
            parts = urlsplit(self.public_url)
            if parts.scheme not in {"http", "https"} or not parts.hostname:
                raise ValueError("ZEVVY_PUBLIC_URL must be an absolute http(s) URL")
            if (
                parts.scheme == "http"
                and not is_loopback(parts.hostname)
                and not self.allow_insecure_public_url
            ):
                raise ValueError(
                    "ZEVVY_PUBLIC_URL must use https unless it is a loopback address "
                    "(set ZEVVY_ALLOW_INSECURE_PUBLIC_URL=1 to override)"
                )
        elif not is_loopback(self.host):
            raise ValueError(
                f"binding {self.host} needs ZEVVY_PUBLIC_URL (the external base URL of the server)"
            )
        if not self.realm or "/" in self.realm:
            raise ValueError("ZEVVY_REALM must be a non-empty name without '/'")
        return self

    @property
    def sqlalchemy_url(self) -> str:
        """The database URL in SQLAlchemy's form (psycopg 3 driver for PostgreSQL)."""
        url = self.database_url or f"sqlite:///{(self.data_dir / 'zevvy.db').resolve()}"
        for prefix in ("postgres://", "postgresql://"):
            if url.startswith(prefix):
                return "postgresql+psycopg://" + url[len(prefix) :]
        return url

    @property
    def is_sqlite(self) -> bool:
        """True on the embedded SQLite database."""
        return self.sqlalchemy_url.startswith("sqlite")

    @property
    def base_url(self) -> str:
        """The external base URL without a trailing slash."""
        if self.public_url:
            return self.public_url.rstrip("/")
        host = self.host if ":" not in self.host else f"[{self.host}]"
        return f"http://{host}:{self.port}"

    @property
    def issuer(self) -> str:
        """The OIDC issuer, ``{base}/realms/{realm}``, also the `iss` of every token."""
        return f"{self.base_url}/realms/{self.realm}"

    @property
    def secure_cookies(self) -> bool:
        """Cookies get the Secure flag when the public URL is https."""
        return self.base_url.startswith("https://")


def load_settings(**overrides: Any) -> Settings:
    """Build the settings from ``ZEVVY_*`` variables, with command-line flags taking precedence."""
    return Settings(**{k: v for k, v in overrides.items() if v is not None})
