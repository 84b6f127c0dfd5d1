"""Bulk assignment by CSV upload, with a preview of every row's outcome before anything is saved.

Columns (header names compared without case, spaces, dashes or underscores; `,`, `;` or tab):
device reference, register reference, usage-unit reference, cost type, valid from, and optionally
valid to and measurement point name. Dates are ``YYYY-MM-DD`` (``DD.MM.YYYY`` as spreadsheets
write them is accepted too), local days in Europe/Zurich.

The preview runs every row through `LinkingService.link` — the API's bulk assignment — inside
savepoints of a transaction that is rolled back, so it reports exactly what saving would do,
including rows that collide with earlier rows of the same file. Saving links the rows the
preview accepted, all in one transaction.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.datastructures import FormData, UploadFile

from zevvy_server.console import lookups
from zevvy_server.console.access import Page, describe, form_text, open_form, open_page, with_notice
from zevvy_server.console.assignments import overlap_message
from zevvy_server.errors import ZevvyError
from zevvy_server.metering.errors import AssignmentOverlap
from zevvy_server.metering.linking import MAX_ROWS, LinkingService
from zevvy_server.metering.models import COST_TYPES, MeasurementPoint
from zevvy_server.metering.schemas import BulkAssignmentRow, convert

router = APIRouter(include_in_schema=False)

MAX_BYTES = 2 * 1024 * 1024
COLUMNS = {
    "devicereference": "deviceReference",
    "deviceref": "deviceReference",
    "device": "deviceReference",
    "registerreference": "registerReference",
    "registerref": "registerReference",
    "register": "registerReference",
    "usageunitreference": "usageUnitReference",
    "usageunitref": "usageUnitReference",
    "usageunit": "usageUnitReference",
    "costtype": "costType",
    "validfrom": "validFrom",
    "from": "validFrom",
    "validto": "validTo",
    "validuntil": "validTo",
    "to": "validTo",
    "measurementpointname": "measurementPointName",
    "measurementpoint": "measurementPointName",
    "pointname": "measurementPointName",
}
REQUIRED = ("deviceReference", "registerReference", "usageUnitReference", "costType", "validFrom")
EXAMPLE = (
    "device reference;register reference;usage-unit reference;cost type;valid from\n"
    "gateway-7;1-0:1.8.0;W-32;electricity;2025-01-01\n"
)
_SWISS_DATE = re.compile(r"^(\d{1,2})\.(\d{1,2})\.(\d{4})$")


class UploadInvalid(ZevvyError):
    """The file as a whole cannot be read (encoding, header, size)."""

    code = "upload_invalid"
    status = 422


@dataclass
class RowOutcome:
    """One line of the file and what saving it would do."""

    line: int
    values: dict[str, str]
    row: BulkAssignmentRow | None = None
    error: str | None = None
    target: lookups.PointChoice | None = None
    new_point: bool = False

    @property
    def ok(self) -> bool:
        """Saving would assign this row."""
        return self.error is None and self.row is not None


@dataclass
class Preview:
    """Every row's outcome."""

    rows: list[RowOutcome] = field(default_factory=list)

    @property
    def accepted(self) -> list[RowOutcome]:
        """The rows saving would assign."""
        return [r for r in self.rows if r.ok]


def _date(text: str) -> str:
    match = _SWISS_DATE.match(text)
    return f"{match[3]}-{int(match[2]):02d}-{int(match[1]):02d}" if match else text


def _key(header: str) -> str:
    return re.sub(r"[^a-z]", "", header.casefold())


def parse(text: str, page: Page) -> list[RowOutcome]:
    """The file's rows as API rows; rows that do not convert carry their error already."""
    text = text.lstrip("\ufeff")
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines:
        raise UploadInvalid(page.t("The file is empty."))
    header = lines[0]
    delimiter = max((";", ",", "\t"), key=header.count)
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    names = [COLUMNS.get(_key(h), "") for h in next(reader)]
    missing = [c for c in REQUIRED if c not in names]
    if missing:
        raise UploadInvalid(page.t("The header lacks the columns: {columns}.", columns=", ".join(missing)))
    outcomes = []
    for cells in reader:
        if not any(c.strip() for c in cells):
            continue
        values = {name: cell.strip() for name, cell in zip(names, cells, strict=False) if name}
        outcome = RowOutcome(line=reader.line_num, values=values)
        data: dict[str, Any] = {k: v for k, v in values.items() if v}
        for key in ("validFrom", "validTo"):
            if key in data:
                data[key] = _date(data[key])
        if "costType" in data:
            data["costType"] = data["costType"].lower().replace(" ", "_").replace("-", "_")
        try:
            outcome.row = convert(data, BulkAssignmentRow)
        except ZevvyError as exc:
            outcome.error = describe(page, exc)
            if data.get("costType") and data["costType"] not in COST_TYPES:
                outcome.error = page.t(
                    "Unknown cost type {value}; use one of {choices}.",
                    value=values.get("costType", ""),
                    choices=", ".join(COST_TYPES),
                )
        outcomes.append(outcome)
        if len(outcomes) > MAX_ROWS:
            raise UploadInvalid(page.t("At most {count} rows per file.", count=MAX_ROWS))
    return outcomes


def preview(session: Session, page: Page, outcomes: list[RowOutcome]) -> Preview:
    """Try every convertible row in a savepoint of a transaction that is rolled back at the end."""
    clock, actor = page.ctx.clock, page.actor
    known = set(
        session.scalars(
            select(MeasurementPoint.id).where(MeasurementPoint.organization_id == actor.organization_id)
        )
    )
    outer = session.begin_nested()
    try:
        for outcome in outcomes:
            if outcome.row is None or outcome.error:
                continue
            savepoint = session.begin_nested()
            try:
                view = LinkingService(session, clock).link(actor, [outcome.row])[0]
            except AssignmentOverlap as exc:
                savepoint.rollback()
                outcome.error = overlap_message(page, session, actor, exc)
                continue
            except ZevvyError as exc:
                savepoint.rollback()
                outcome.error = describe(page, exc)
                continue
            point_id = view.assignment.measurement_point_id
            outcome.target = lookups.point_path(session, actor, point_id)
            outcome.new_point = point_id not in known
            savepoint.commit()
    finally:
        outer.rollback()
    return Preview(outcomes)


def save(session: Session, page: Page, outcomes: list[RowOutcome]) -> int:
    """Preview again (the data may have changed), then link the accepted rows in one go."""
    accepted = preview(session, page, outcomes).accepted
    rows = [r.row for r in accepted if r.row is not None]
    if rows:
        LinkingService(session, page.ctx.clock).link(page.actor, rows)
    return len(rows)


async def _text(form: Any) -> str:
    upload = form.get("file")
    if isinstance(upload, UploadFile) and upload.filename:
        raw = await upload.read(MAX_BYTES + 1)
        if len(raw) > MAX_BYTES:
            raise UploadInvalid("The file is too large (at most 2 MB).")
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            return raw.decode("cp1252")  # what spreadsheet programs on Windows still write
    return form_text(form, "csv_text")


@router.get("/console/assignments/upload")
async def upload_form(request: Request) -> Response:
    """The upload form with the expected columns."""
    page = await open_page(request)
    if isinstance(page, Response):
        return page
    saved = request.query_params.get("saved", "")
    context = {
        "example": EXAMPLE,
        "preview": None,
        "text": "",
        "error": None,
        "saved": int(saved) if saved.isdigit() else None,
    }
    return page.render("structure/upload.html", context)


@router.post("/console/assignments/upload")
async def upload(request: Request) -> Response:
    """Preview the file's rows, or save the rows the preview accepted."""
    page, form = await open_form(request)
    try:
        if isinstance(page, Response):
            return page
        return await _upload(page, form)
    finally:
        await form.close()  # the uploaded file's temporary copy


async def _upload(page: Page, form: FormData) -> Response:
    page.actor.require_writer()
    action = form_text(form, "action") or "preview"
    try:
        text = await _text(form)
        outcomes = parse(text, page)
    except UploadInvalid as exc:
        refused = {
            "example": EXAMPLE,
            "preview": None,
            "text": "",
            "error": page.t(exc.message),
            "saved": None,
        }
        return page.render("structure/upload.html", refused, 422)
    if action == "save":
        try:
            saved = await page.write(lambda s: save(s, page, outcomes))
        except ZevvyError as exc:
            if exc.status == 403:
                raise
            error = describe(page, exc)
        else:
            return with_notice(f"/console/assignments/upload?saved={saved}", "assigned")
    else:
        error = None
    result = await page.write(lambda s: preview(s, page, outcomes))
    context: dict[str, Any] = {
        "example": EXAMPLE,
        "preview": result,
        "text": text,
        "error": error,
        "saved": None,
    }
    return page.render("structure/upload.html", context, 200 if error is None else 409)
