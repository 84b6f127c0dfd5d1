"""The client distribution stands on its own."""

from __future__ import annotations

import ast
from pathlib import Path

import zevvy

SOURCE = Path(zevvy.__file__).parent


def test_the_client_never_imports_the_server() -> None:
    """No module of the SDK imports zevvy_server (it installs without the server's dependencies)."""
    for path in SOURCE.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            assert not any(n.split(".")[0] == "zevvy_server" for n in names), path


def test_the_public_names_are_sorted_and_exported() -> None:
    """__all__ is sorted and every name in it exists."""
    assert list(zevvy.__all__) == sorted(zevvy.__all__)
    for name in zevvy.__all__:
        assert hasattr(zevvy, name)
