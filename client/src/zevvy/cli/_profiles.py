"""Where the command line keeps its settings and tokens: one profile per server and client.

    $ZEVVY_CONFIG_DIR, else $XDG_CONFIG_HOME/zevvy, else ~/.config/zevvy
    ├── config.json                    {"defaultProfile": "..."}: the last login
    ├── profiles/<name>/profile.json   authUrl, apiUrl, clientId, clientSecret (0600)
    ├── profiles/<name>/tokens.json    the login's tokens (0600)
    └── push-state/<key>.json          how far each push got (see `_push`)

A profile is named with ``--profile`` or after its auth URL and client id.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from zevvy import FileTokenStore
from zevvy._files import write_private_file

LOCAL_AUTH_URL = "http://127.0.0.1:8000/realms/zevvy"
LOCAL_API_URL = "http://127.0.0.1:8000"
HOSTED_AUTH_URL = "https://iam.zevvy.org/realms/zevvy-prod"
HOSTED_API_URL = "https://api.zevvy.org"
PUBLIC_CLIENT_ID = "zevvy-cli"
KNOWN_API_URLS = {LOCAL_AUTH_URL: LOCAL_API_URL, HOSTED_AUTH_URL: HOSTED_API_URL}
"""API roots of well-known auth roots; any other server needs both given."""


class ProfileError(Exception):
    """A profile is missing or its settings are incomplete."""


def config_dir(environ: dict[str, str] | None = None) -> Path:
    """The folder for the command line's files (``ZEVVY_CONFIG_DIR`` or the XDG config folder)."""
    env = os.environ if environ is None else environ
    if env.get("ZEVVY_CONFIG_DIR"):
        return Path(env["ZEVVY_CONFIG_DIR"]).expanduser()
    base = env.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base).expanduser() / "zevvy"


def profile_name_for(auth_url: str, client_id: str) -> str:
    """A readable, stable name for a server and client: ``iam.zevvy.org-realms-zevvy-prod--cli-1a2b3c``."""
    parts = urlsplit(auth_url)
    readable = re.sub(r"[^A-Za-z0-9.]+", "-", f"{parts.netloc}{parts.path}").strip("-").lower()
    client = re.sub(r"[^A-Za-z0-9.]+", "-", client_id).strip("-").lower()
    digest = hashlib.sha256(f"{auth_url.rstrip('/')}\n{client_id}".encode()).hexdigest()[:6]
    return f"{readable}--{client}-{digest}"


_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,100}$")


@dataclass
class Profile:
    """The settings of one login and where its tokens live."""

    name: str
    auth_url: str
    api_url: str
    client_id: str
    client_secret: str | None
    folder: Path

    @property
    def token_store(self) -> FileTokenStore:
        """The profile's token file."""
        return FileTokenStore(self.folder / "tokens.json")

    def to_json(self) -> dict[str, Any]:
        """The stored settings."""
        data: dict[str, Any] = {"authUrl": self.auth_url, "apiUrl": self.api_url, "clientId": self.client_id}
        if self.client_secret:
            data["clientSecret"] = self.client_secret
        return data

    def save(self) -> None:
        """Write the settings (0600; the client secret is in it)."""
        write_private_file(self.folder / "profile.json", json.dumps(self.to_json(), indent=2) + "\n")


@dataclass
class Overrides:
    """Settings given on the command line or in the environment (None: not given)."""

    profile: str | None = None
    auth_url: str | None = None
    api_url: str | None = None
    client_id: str | None = None
    client_secret: str | None = None


class Profiles:
    """The profiles in one config folder."""

    def __init__(self, root: Path | None = None) -> None:
        self.root = root or config_dir()

    def folder(self, name: str) -> Path:
        """The folder of profile `name`."""
        if not _NAME.match(name):
            raise ProfileError(f"a profile name uses letters, digits, '.', '_' and '-' only, not {name!r}")
        return self.root / "profiles" / name

    def load(self, name: str) -> dict[str, Any] | None:
        """The stored settings of `name`, or None."""
        try:
            data = json.loads((self.folder(name) / "profile.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) else None

    def default_name(self) -> str | None:
        """The profile of the last login."""
        try:
            data = json.loads((self.root / "config.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        name = data.get("defaultProfile") if isinstance(data, dict) else None
        return name if isinstance(name, str) else None

    def set_default(self, name: str) -> None:
        """Make `name` the profile used when none is named."""
        write_private_file(self.root / "config.json", json.dumps({"defaultProfile": name}, indent=2) + "\n")

    def resolve(self, given: Overrides, *, for_login: bool = False) -> Profile:
        """The profile to use: named, else the one of the given auth URL and client, else the default.

        Settings given on the command line win over stored ones; a login with nothing given uses the
        local server (``http://127.0.0.1:8000``) and its public ``zevvy-cli`` client.
        """
        name = given.profile
        stored: dict[str, Any] | None = None
        if name is None and given.auth_url is None:
            name = self.default_name()
            if name is None and not for_login:
                raise ProfileError("not logged in: run `zevvy login` first (or name a --profile)")
        if name is not None:
            stored = self.load(name)
            if stored is None and not for_login:
                raise ProfileError(f"no profile {name!r}: run `zevvy login --profile {name}` first")
        stored = stored or {}
        auth_url = given.auth_url or stored.get("authUrl") or LOCAL_AUTH_URL
        client_id = given.client_id or stored.get("clientId") or PUBLIC_CLIENT_ID
        if name is None:
            name = profile_name_for(auth_url, client_id)
            stored = self.load(name) or {}
            if not stored and not for_login:
                raise ProfileError(
                    f"not logged in to {auth_url} as client {client_id}: run `zevvy login` first"
                )
        api_url = given.api_url or stored.get("apiUrl") or KNOWN_API_URLS.get(auth_url.rstrip("/"))
        if api_url is None:
            raise ProfileError(
                "give the API root too: --api-url or ZEVVY_API_URL (e.g. https://api.zevvy.org)"
            )
        secret = given.client_secret or stored.get("clientSecret") or None
        return Profile(
            name=name,
            auth_url=auth_url.rstrip("/"),
            api_url=api_url.rstrip("/"),
            client_id=client_id,
            client_secret=secret,
            folder=self.folder(name),
        )
