"""How the command line answers: rich text for people, JSON for scripts, and exit codes."""

from __future__ import annotations

import sys
from enum import IntEnum
from typing import Any, NoReturn

import typer
from rich.console import Console

from zevvy import AuthenticationError, PermissionDenied, ValidationError, ZevvyError
from zevvy._wire import as_json, dumps


class ExitCode(IntEnum):
    """The command's exit status (documented in the README)."""

    OK = 0
    ERROR = 1
    USAGE = 2
    AUTH = 3
    CONFLICTS = 4
    PARTIAL = 5
    INTERRUPTED = 130


class Output:
    """Writes results to stdout and everything else (progress, notes, errors) to stderr."""

    def __init__(self, json_mode: bool) -> None:
        self.json = json_mode
        self.out = Console(soft_wrap=True)
        self.err = Console(stderr=True, soft_wrap=True)

    def data(self, value: Any) -> None:
        """Print `value` (models, dicts, lists) as one line of JSON on stdout."""
        sys.stdout.write(dumps(as_json(value)) + "\n")
        sys.stdout.flush()

    def note(self, text: str) -> None:
        """A remark for people on stderr (silent in --json mode)."""
        if not self.json:
            self.err.print(text, highlight=False)

    def fail(
        self, message: str, *, code: ExitCode = ExitCode.ERROR, error: str = "error", **extra: Any
    ) -> NoReturn:
        """Report a failure and stop with `code`."""
        if self.json:
            body = {"error": error, "message": message, **extra}
            sys.stderr.write(dumps(as_json(body)) + "\n")
        else:
            label = "Error" if error in {"error", "invalid_input"} else f"Error ({error})"
            self.err.print(f"[bold red]{escape(label)}:[/] {escape(message)}", highlight=False)
            for value in extra.values():
                if isinstance(value, list):
                    for item in value[:20]:
                        self.err.print(f"  {escape(describe_detail(item))}", highlight=False)
        raise typer.Exit(int(code))

    def fail_with(self, exc: ZevvyError, *, code: ExitCode | None = None) -> NoReturn:
        """Report an SDK error with the exit code that fits it."""
        if code is None:
            code = ExitCode.AUTH if isinstance(exc, AuthenticationError) else ExitCode.ERROR
        message = exc.message
        if isinstance(exc, AuthenticationError):
            message += " (run `zevvy login`)"
        elif isinstance(exc, PermissionDenied) and exc.scope:
            message += f" (the login lacks the scope '{exc.scope}'; log in again with it)"
        extra: dict[str, Any] = {}
        if exc.status:
            extra["status"] = exc.status
        if isinstance(exc, ValidationError) or exc.details:
            extra["details"] = exc.details
        self.fail(message, code=code, error=exc.code, **extra)


def escape(text: str) -> str:
    """Text safe to print through rich markup."""
    from rich.markup import escape as rich_escape

    return rich_escape(text)


def describe_detail(detail: Any) -> str:
    """One validation detail (``{"pointer", "problem", "message"}``) as a line."""
    if not isinstance(detail, dict):
        return str(detail)
    text = f"{detail.get('pointer', '')}: {detail.get('problem', '')}"
    if "line" in detail:
        text = f"line {detail['line']} ({text})"
    if detail.get("message"):
        text += f" ({detail['message']})"
    return text
