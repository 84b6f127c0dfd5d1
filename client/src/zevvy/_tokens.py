"""Where tokens live between runs: in memory, or in a private JSON file."""

from __future__ import annotations

import contextlib
import json
import os
import threading
from pathlib import Path
from typing import Protocol, runtime_checkable

from zevvy._files import write_private_file
from zevvy._models import Tokens

__all__ = ["FileTokenStore", "MemoryTokenStore", "TokenStore"]


@runtime_checkable
class TokenStore(Protocol):
    """Keeps the tokens of one login.

    Implementations MUST make `save` durable before returning: refresh tokens rotate, so the
    token just replaced stops working soon after a refresh. `load` MUST return what the last
    `save` stored (or None after `clear`), also when another process saved it.
    """

    def load(self) -> Tokens | None:
        """The stored tokens, or None."""
        ...

    def save(self, tokens: Tokens) -> None:
        """Store `tokens`, replacing what was stored."""
        ...

    def clear(self) -> None:
        """Forget the stored tokens."""
        ...


class MemoryTokenStore:
    """Tokens kept in this process only.

    ```python
    client = zevvy.Client(api_url, auth_url=auth_url, token_store=zevvy.MemoryTokenStore())
    ```
    """

    def __init__(self, tokens: Tokens | None = None) -> None:
        self._tokens = tokens
        self._lock = threading.Lock()

    def load(self) -> Tokens | None:
        """The stored tokens, or None."""
        with self._lock:
            return self._tokens

    def save(self, tokens: Tokens) -> None:
        """Store `tokens`."""
        with self._lock:
            self._tokens = tokens

    def clear(self) -> None:
        """Forget the tokens."""
        with self._lock:
            self._tokens = None


class FileTokenStore:
    """Tokens in a JSON file readable by its owner only (0600), replaced atomically.

    ```python
    store = zevvy.FileTokenStore(Path.home() / ".config" / "my-gateway" / "tokens.json")
    ```
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    def load(self) -> Tokens | None:
        """The stored tokens, or None when the file is missing or unreadable."""
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        try:
            return Tokens.from_json(data)
        except (KeyError, TypeError, ValueError):
            return None

    def save(self, tokens: Tokens) -> None:
        """Write `tokens` (temporary file, fsync, rename), with 0600 permissions."""
        write_private_file(self.path, json.dumps(tokens.to_json(), indent=2) + "\n")

    def clear(self) -> None:
        """Delete the file."""
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
