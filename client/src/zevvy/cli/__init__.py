"""The ``zevvy`` command: login, devices, registers, push and export from a shell.

Installed with ``pip install 'zevvy[cli]'`` (typer, rich, segno). It asks the server everything
through the SDK's public API.
"""

from __future__ import annotations

import sys

_EXTRAS = {"typer", "click", "rich", "segno"}


def main() -> None:
    """Entry point of the ``zevvy`` command."""
    try:
        from zevvy.cli._app import app
    except ImportError as exc:
        if (exc.name or "").split(".")[0] not in _EXTRAS:
            raise
        print(
            f"zevvy: the command line needs its extras ({exc.name} is missing): pip install 'zevvy[cli]'",
            file=sys.stderr,
        )
        sys.exit(1)
    app()
