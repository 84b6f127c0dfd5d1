"""The ``zevvy`` command (login, push, export) — being built; today it reports its version."""

from __future__ import annotations

import sys

from zevvy import __version__


def main() -> None:
    """Entry point of the ``zevvy`` command."""
    if len(sys.argv) > 1 and sys.argv[1] in {"--version", "version"}:
        print(f"zevvy {__version__}")
        return
    print("zevvy: the command line is not available yet; use --version", file=sys.stderr)
    sys.exit(2)
