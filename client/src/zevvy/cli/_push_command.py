"""The ``zevvy push`` command: options, progress bar and the closing report."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import typer
from rich.progress import (
    BarColumn,
    Progress,
    ProgressColumn,
    Task,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.text import Text

from zevvy import AuthenticationError, Retry, ValidationError, ZevvyError
from zevvy.cli._common import (
    ApiUrl,
    AuthUrl,
    ClientId,
    ClientSecret,
    JsonOutput,
    ProfileName,
    invocation,
    reports_errors,
)
from zevvy.cli._output import ExitCode, Output, escape
from zevvy.cli._push import Outcome, PushOptions, StateFile, push_rows, summary
from zevvy.cli._readings import Format, InputError, read_rows


class ReadingsPerSecond(ProgressColumn):
    """The push's speed."""

    def render(self, task: Task) -> Text:
        """``1,234 readings/s``."""
        speed = task.finished_speed or task.speed
        return Text(f"{speed:,.0f} readings/s" if speed else "", style="progress.data.speed")


def _zone(name: str | None, out: Output) -> ZoneInfo | None:
    if name is None:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        out.fail(f"unknown time zone {name!r} (use an IANA name such as Europe/Zurich)", code=ExitCode.USAGE)


@reports_errors()
def push(
    file: Annotated[
        Path, typer.Argument(help='CSV or JSON ([{"readAt", "value"}]) file.', show_default=False)
    ],
    device_ref: Annotated[str, typer.Option("--device-ref", help="The device's reference (created if new).")],
    register_ref: Annotated[
        str, typer.Option("--register-ref", help="The register's reference (created if new).")
    ],
    fmt: Annotated[str, typer.Option("--format", help="csv, json, or auto (by file extension).")] = "auto",
    time_column: Annotated[str, typer.Option(help="CSV column of the timestamps.")] = "readAt",
    value_column: Annotated[str, typer.Option(help="CSV column of the values.")] = "value",
    delimiter: Annotated[str, typer.Option(help="CSV delimiter (use '\\t' for tabs).")] = ",",
    timezone: Annotated[
        str | None, typer.Option("--timezone", help="Zone of timestamps without offset, e.g. Europe/Zurich.")
    ] = None,
    batch_size: Annotated[int, typer.Option(min=1, help="Readings per request.")] = 10_000,
    register_kind: Annotated[
        str | None, typer.Option(help="counter or interval, for a new register.")
    ] = None,
    period: Annotated[str | None, typer.Option(help="Period of a new register (default: PT15M).")] = None,
    unit: Annotated[str | None, typer.Option(help="Unit of a new register (default: Wh).")] = None,
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Replace stored values that differ (kept in the revisions).")
    ] = False,
    conflicts_file: Annotated[
        Path | None, typer.Option(help="Append readings that differ from stored values to this CSV.")
    ] = None,
    fail_on_conflict: Annotated[bool, typer.Option(help="Exit with 4 when there were conflicts.")] = False,
    retries: Annotated[
        int, typer.Option(min=0, help="Retries per batch on 429, 5xx and network errors.")
    ] = 8,
    restart: Annotated[
        bool, typer.Option(help="Ignore what an earlier run delivered and send everything.")
    ] = False,
    auth_url: AuthUrl = None,
    api_url: ApiUrl = None,
    client_id: ClientId = None,
    client_secret: ClientSecret = None,
    profile: ProfileName = None,
    json: JsonOutput = False,
) -> None:
    """Send a CSV or JSON file of readings, in batches, resumably.

    A re-run after an interruption continues after the last batch the server confirmed.
    """
    out = Output(json)
    if fmt not in {"auto", "csv", "json"}:
        out.fail("--format is csv, json or auto", code=ExitCode.USAGE)
    zone = _zone(timezone, out)
    delimiter = "\t" if delimiter in {"\\t", "tab"} else delimiter
    if len(delimiter) != 1:
        out.fail("--delimiter is one character", code=ExitCode.USAGE)
    try:
        rows = read_rows(file, Format(fmt, time_column, value_column, delimiter, zone))
    except InputError as exc:
        out.fail(str(exc), code=ExitCode.USAGE, error="invalid_input", problems=exc.problems)
    with invocation(
        out,
        profile=profile,
        auth_url=auth_url,
        api_url=api_url,
        client_id=client_id,
        client_secret=client_secret,
    ) as current:
        state_file, fresh = StateFile.for_push(
            current.profiles.root,
            current.profile.name,
            file,
            device_ref,
            register_ref,
            "overwrite" if overwrite else "keep",
        )
        state = fresh if restart else (state_file.load() or fresh)
        if state.confirmed > len(rows):
            state = fresh
        if state.complete and state.confirmed == len(rows):
            report = summary(state, Outcome(state=state, skipped=state.confirmed), 0.0)
            if json:
                out.data({**report, "alreadyDelivered": True})
            else:
                out.note(
                    f"{file} was delivered completely before ({state.confirmed:,} readings); "
                    "nothing to send. "
                    "Use --restart to send it again."
                )
            return
        if state.confirmed:
            out.note(f"Resuming: {state.confirmed:,} of {len(rows):,} readings were delivered before.")

        progress: Progress | None = None

        def on_retry(attempt: int, delay: float, error: ZevvyError) -> None:
            note = f"try {attempt} failed ({error}); retrying in {delay:.1f} s"
            if progress is not None:
                progress.console.print(f"[yellow]{escape(note)}[/]", highlight=False)

        options = PushOptions(
            device_ref=device_ref,
            register_ref=register_ref,
            batch_size=batch_size,
            on_conflict="overwrite" if overwrite else "keep",
            register_kind=register_kind,
            period=period,
            unit=unit,
            conflicts_file=conflicts_file,
        )
        started = time.monotonic()
        client = current.client(retry=Retry(attempts=retries + 1, on_retry=on_retry))
        if json:
            outcome = push_rows(client, rows, options, state, state_file)
        else:
            progress = Progress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                TaskProgressColumn(),
                TextColumn("{task.completed:,.0f}/{task.total:,.0f} readings"),
                ReadingsPerSecond(),
                TimeElapsedColumn(),
                console=out.err,
                transient=False,
            )
            with progress:
                task = progress.add_task("push", total=len(rows), completed=state.confirmed)
                outcome = push_rows(
                    client, rows, options, state, state_file, on_batch=lambda n: progress.advance(task, n)
                )
        seconds = time.monotonic() - started
        report = summary(state, outcome, seconds)
        if conflicts_file is not None:
            report["conflictsFile"] = str(conflicts_file)
        error = outcome.error
        if error is None:
            if json:
                out.data(report)
            else:
                speed = outcome.sent / seconds if seconds > 0 else 0.0
                out.out.print(
                    f"Delivered {state.confirmed:,} readings in {state.batches} batch(es): "
                    f"{state.created:,} created, {state.unchanged:,} unchanged, "
                    f"{state.overwritten:,} overwritten, {state.conflicts:,} conflicts "
                    f"({seconds:.1f} s, {speed:,.0f} readings/s).",
                    highlight=False,
                )
                if state.conflicts and conflicts_file is not None:
                    out.out.print(
                        f"Conflicts (up to 100 per batch) written to {conflicts_file}.", highlight=False
                    )
                elif state.conflicts:
                    out.out.print(
                        "Readings that differ from stored values were kept as conflicts for review "
                        "(--conflicts-file lists them; --overwrite replaces the stored values).",
                        highlight=False,
                    )
            if fail_on_conflict and state.conflicts:
                raise typer.Exit(int(ExitCode.CONFLICTS))
            return
        partial = outcome.sent > 0 or state.confirmed > 0
        code = ExitCode.PARTIAL if partial else ExitCode.ERROR
        if isinstance(error, AuthenticationError):
            code = ExitCode.AUTH
        where = f" after {state.confirmed:,} of {len(rows):,} readings; re-run to resume" if partial else ""
        if json:
            out.data({**report, "error": getattr(error, "code", "error")})
        if isinstance(error, ZevvyError):
            details = error.details if isinstance(error, ValidationError) else []
            out.fail(f"{error.message}{where}", code=code, error=error.code, details=details)
        out.fail(f"{error}{where}", code=code)
