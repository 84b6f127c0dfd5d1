"""What a chart shows: raw readings or consumption per bucket over a range, as the page's table,
as JSON for the interactive chart, and as CSV — all three from one `load_series` call, so the
download holds exactly what is drawn.

The range lives in the URL (``view``, ``interval``, ``from``, ``to``): ``from``/``to`` are local
dates (``to`` exclusive) or RFC 3339 instants after a zoom; the form's inclusive ``until`` date
becomes ``to``. Day and month charts always cover whole local days or months (Europe/Zurich), so
a DST day is one bar of 23 or 25 hours.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from typing import Any, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy.orm import Session

from zevvy_server.clock import Clock
from zevvy_server.console import lookups
from zevvy_server.console.access import TIME_ZONE, TZ, local_text, open_page, parse_id
from zevvy_server.metering.aggregation import Bucket
from zevvy_server.metering.common import Actor
from zevvy_server.metering.consumption import ConsumptionService
from zevvy_server.metering.errors import invalid
from zevvy_server.metering.export import buckets_csv, check_delimiter, readings_csv
from zevvy_server.metering.periods import local_date, local_day_start
from zevvy_server.metering.readings import ReadingService
from zevvy_server.metering.registers import RegisterService
from zevvy_server.metering.structure import StructureService
from zevvy_server.metering.values import format_instant, parse_instant, value_to_json_text

router = APIRouter(include_in_schema=False)

View = Literal["readings", "consumption"]
VIEWS: tuple[View, ...] = ("readings", "consumption")
INTERVALS = ("15min", "hour", "day", "month")
# More points than this make neither a readable chart nor a usable table.
MAX_POINTS = 10_000
_STEP_US = {"15min": 900_000_000, "hour": 3_600_000_000}
_DEFAULT_DAYS = {"readings": 7, "15min": 2, "hour": 7, "day": 31, "month": 366}
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclass(frozen=True)
class Range:
    """A chart's view, interval and [from, to) as URL texts and as instants."""

    view: View
    interval: str
    from_text: str
    to_text: str
    from_us: int
    to_us: int

    @property
    def dated(self) -> bool:
        """Both bounds are local dates (not instants from a zoom)."""
        return bool(_DATE.match(self.from_text) and _DATE.match(self.to_text))

    @property
    def from_date(self) -> str:
        """The local date the range starts on."""
        return local_date(self.from_us, TZ).isoformat()

    @property
    def until_date(self) -> str:
        """The last local date the range touches (the form's inclusive end)."""
        return local_date(self.to_us - 1, TZ).isoformat()

    def query(self, **changes: str) -> str:
        """The URL query of this range (with `changes`)."""
        values = {"view": self.view, "interval": self.interval, "from": self.from_text, "to": self.to_text}
        values.update(changes)
        return urlencode(values)


def _day(text: str) -> date:
    return date.fromisoformat(text)


def _bound(text: str, pointer: str) -> int:
    if _DATE.match(text):
        try:
            return local_day_start(_day(text), TZ)
        except ValueError:
            raise invalid(pointer, "invalid_date", "not a date") from None
    try:
        return parse_instant(text)
    except ValueError:
        raise invalid(pointer, "invalid_instant", "a date (YYYY-MM-DD) or an RFC 3339 instant") from None


def _month_start(day: date) -> date:
    return day.replace(day=1)


def _next_month(day: date) -> date:
    return date(day.year + (day.month == 12), day.month % 12 + 1, 1)


def chart_range(
    *,
    view: str | None,
    interval: str | None,
    from_text: str | None,
    to_text: str | None,
    until: str | None,
    latest_us: int | None,
    clock: Clock,
    views: tuple[View, ...] = VIEWS,
) -> Range:
    """The range a request asks for, normalised: whole local days or months for day and month
    charts, a default span ending with the latest reading, at most `MAX_POINTS` buckets."""
    chosen_view: View = next((v for v in views if v == view), views[0])
    chosen_interval = interval if interval in INTERVALS else "day"
    key = "readings" if chosen_view == "readings" else chosen_interval
    if until and _DATE.match(until.strip()):
        try:
            to_text = (_day(until.strip()) + timedelta(days=1)).isoformat()
        except (ValueError, OverflowError):
            raise invalid("/to", "invalid_date", "not a date") from None
    from_text, to_text = (from_text or "").strip(), (to_text or "").strip()
    if not to_text:
        latest = latest_us if latest_us is not None else int(clock.time()) * 1_000_000
        to_text = (local_date(latest, TZ) + timedelta(days=1)).isoformat()
    if not from_text:
        start = local_date(_bound(to_text, "/to"), TZ)
        from_text = (start - timedelta(days=_DEFAULT_DAYS[key])).isoformat()
    low, high = _bound(from_text, "/from"), _bound(to_text, "/to")
    if chosen_view == "consumption" and chosen_interval in {"day", "month"}:
        first, last = local_date(low, TZ), local_date(high - 1, TZ) + timedelta(days=1)
        if chosen_interval == "month":
            first, last = _month_start(first), _next_month(local_date(high - 1, TZ))
        from_text, to_text = first.isoformat(), last.isoformat()
        low, high = _bound(from_text, "/from"), _bound(to_text, "/to")
    if low >= high:
        raise invalid("/to", "empty_range", "The end must be after the start.")
    step = _STEP_US.get(chosen_interval)
    if chosen_view == "consumption" and step and (high - low) // step > MAX_POINTS:
        raise invalid(
            "/interval",
            "too_many_points",
            "This range has too many buckets for a chart; choose a shorter range or a coarser interval.",
        )
    return Range(chosen_view, chosen_interval, from_text, to_text, low, high)


def _add_months(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def shifted(rng: Range, direction: int) -> Range:
    """The range of the same length just before (-1) or after (+1)."""
    if rng.dated and rng.view == "consumption" and rng.interval == "month":
        start, end = _day(rng.from_text), _day(rng.to_text)
        months = ((end.year - start.year) * 12 + end.month - start.month) * direction
        return _with_texts(rng, _add_months(start, months).isoformat(), _add_months(end, months).isoformat())
    if rng.dated:
        days = (_day(rng.to_text) - _day(rng.from_text)).days * direction
        start, end = _day(rng.from_text) + timedelta(days=days), _day(rng.to_text) + timedelta(days=days)
        return _with_texts(rng, start.isoformat(), end.isoformat())
    span = (rng.to_us - rng.from_us) * direction
    return _with_texts(rng, format_instant(rng.from_us + span), format_instant(rng.to_us + span))


def zoomed_out(rng: Range) -> Range:
    """Twice the span around the same middle."""
    if rng.dated:
        half = max(1, -(-(_day(rng.to_text) - _day(rng.from_text)).days // 2))
        start, end = _day(rng.from_text) - timedelta(days=half), _day(rng.to_text) + timedelta(days=half)
        return _with_texts(rng, start.isoformat(), end.isoformat())
    half = (rng.to_us - rng.from_us) // 2
    return _with_texts(rng, format_instant(rng.from_us - half), format_instant(rng.to_us + half))


def _with_texts(rng: Range, from_text: str, to_text: str) -> Range:
    return replace(rng, from_text=from_text, to_text=to_text)


@dataclass
class Series:
    """What one chart shows; `buckets` or `instants`/`values` feed the CSV unchanged."""

    rng: Range
    unit: str
    points: list[dict[str, Any]]
    truncated: bool = False
    total: int | None = None
    buckets: list[Bucket] = field(default_factory=list)
    instants: list[int] = field(default_factory=list)
    values: list[int] = field(default_factory=list)

    def csv(self, delimiter: str) -> str:
        """The CSV of exactly these points, with UTC and local columns."""
        if self.rng.view == "readings":
            return readings_csv(self.instants, self.values, TZ, check_delimiter(delimiter))
        return buckets_csv(self.buckets, TZ, check_delimiter(delimiter))


def _bucket_label(rng: Range, start_us: int) -> str:
    if rng.interval == "month":
        return local_text(start_us, "month")
    if rng.interval == "day":
        return local_text(start_us, "date")
    return local_text(start_us, "offset")


def _from_buckets(rng: Range, unit: str, buckets: list[Bucket], total: int | None) -> Series:
    points = [
        {
            "t": b.from_us // 1000,
            "e": b.to_us // 1000,
            "utc": format_instant(b.from_us),
            "label": _bucket_label(rng, b.from_us),
            "value": None if b.value is None else value_to_json_text(b.value),
            "estimated": b.estimated,
            "partial": b.partial,
        }
        for b in buckets
    ]
    return Series(rng, unit, points, total=total, buckets=buckets)


def register_series(
    session: Session, clock: Clock, actor: Actor, register_id: uuid.UUID, rng: Range
) -> Series:
    """A register's readings or consumption over the range."""
    if rng.view == "consumption":
        result = ConsumptionService(session, clock).register(
            actor,
            register_id,
            from_text=rng.from_text,
            to_text=rng.to_text,
            interval=rng.interval,
            time_zone=TIME_ZONE,
        )
        return _from_buckets(rng, result.unit, result.buckets, result.total)
    register = RegisterService(session, clock).get(actor, register_id)
    page = ReadingService(session, clock).readings(
        actor, register, low=rng.from_us, high=rng.to_us, limit=MAX_POINTS, cursor=None
    )
    points = [
        {
            "t": t // 1000,
            "e": None,
            "utc": format_instant(t),
            "label": local_text(t, "offset"),
            "value": value_to_json_text(v),
            "estimated": False,
            "partial": False,
        }
        for t, v in zip(page.instants, page.values, strict=True)
    ]
    return Series(
        rng,
        register.unit,
        points,
        truncated=page.next_cursor is not None,
        instants=page.instants,
        values=page.values,
    )


def point_series(session: Session, clock: Clock, actor: Actor, point_id: uuid.UUID, rng: Range) -> Series:
    """A measurement point's consumption over the range, across its registers."""
    result = ConsumptionService(session, clock).point(
        actor,
        point_id,
        from_text=rng.from_text,
        to_text=rng.to_text,
        interval=rng.interval,
        time_zone=TIME_ZONE,
    )
    return _from_buckets(rng, result.unit, result.buckets, result.total)


def _neighbour(move: Callable[[Range], Range], rng: Range) -> Range:
    try:
        return move(rng)
    except (ValueError, OverflowError):  # at the ends of the calendar there is nothing further
        return rng


def links(base: str, rng: Range) -> dict[str, str]:
    """Where the chart's controls lead: this range's page, data and CSV, and its neighbours."""
    earlier = _neighbour(lambda r: shifted(r, -1), rng)
    later = _neighbour(lambda r: shifted(r, 1), rng)
    wider = _neighbour(zoomed_out, rng)
    return {
        "page": f"{base}?{rng.query()}",
        "data": f"{base}/series.json?{rng.query()}",
        "csvComma": f"{base}/export.csv?{rng.query(delimiter=',')}",
        "csvSemicolon": f"{base}/export.csv?{rng.query(delimiter=';')}",
        "prev": f"{base}?{earlier.query()}",
        "next": f"{base}?{later.query()}",
        "zoomOut": f"{base}?{wider.query()}",
    }


def as_json(series: Series, base: str) -> dict[str, Any]:
    """The chart's data as the page's script reads it."""
    rng = series.rng
    return {
        "view": rng.view,
        "interval": rng.interval,
        "unit": series.unit,
        "timeZone": TIME_ZONE,
        "from": format_instant(rng.from_us),
        "to": format_instant(rng.to_us),
        "fromDate": rng.from_date,
        "untilDate": rng.until_date,
        "points": series.points,
        "truncated": series.truncated,
        "total": None if series.total is None else value_to_json_text(series.total),
        "links": links(base, rng),
    }


def _filename(name: str, rng: Range) -> str:
    safe = re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-") or "export"
    what = "readings" if rng.view == "readings" else f"consumption-{rng.interval}"
    return f"{safe}-{what}-{rng.from_date}-{rng.until_date}.csv"


# -- routes -----------------------------------------------------------------------------------------
def _unauthenticated() -> Response:
    return JSONResponse({"error": "invalid_session", "message": "Sign in again."}, 401)


async def _register_series(request: Request, register_id: str) -> tuple[Series, str] | Response:
    page = await open_page(request)
    if isinstance(page, Response):
        return _unauthenticated()
    request.state.html_errors = False  # a script or a download reads these answers: errors as JSON
    ctx, ident = page.ctx, parse_id(register_id)
    params = request.query_params

    def load(session: Session) -> tuple[Series, str]:
        register = RegisterService(session, ctx.clock).get(page.actor, ident)
        rng = chart_range(
            view=params.get("view"),
            interval=params.get("interval"),
            from_text=params.get("from"),
            to_text=params.get("to"),
            until=params.get("until"),
            latest_us=register.last_read_at,
            clock=ctx.clock,
        )
        return register_series(session, ctx.clock, page.actor, ident, rng), register.name

    return await page.read(load)


@router.get("/console/registers/{register_id}/series.json")
async def register_series_json(request: Request, register_id: str) -> Response:
    """A register's chart data for the page's script (session-authenticated)."""
    loaded = await _register_series(request, register_id)
    if isinstance(loaded, Response):
        return loaded
    series, _ = loaded
    return JSONResponse(
        as_json(series, f"/console/registers/{register_id}"), headers={"Cache-Control": "no-store"}
    )


@router.get("/console/registers/{register_id}/export.csv")
async def register_csv(request: Request, register_id: str, delimiter: str = ",") -> Response:
    """Exactly what the chart shows, as CSV with UTC and local columns."""
    check_delimiter(delimiter)
    loaded = await _register_series(request, register_id)
    if isinstance(loaded, Response):
        return loaded
    series, name = loaded
    return _csv_response(series, name, delimiter)


async def _point_series(request: Request, point_id: str) -> tuple[Series, str] | Response:
    page = await open_page(request)
    if isinstance(page, Response):
        return _unauthenticated()
    request.state.html_errors = False
    ctx, ident = page.ctx, parse_id(point_id)
    params = request.query_params

    def load(session: Session) -> tuple[Series, str]:
        point = StructureService(session, ctx.clock).point(page.actor, ident)
        rng = chart_range(
            view="consumption",
            interval=params.get("interval"),
            from_text=params.get("from"),
            to_text=params.get("to"),
            until=params.get("until"),
            latest_us=lookups.point_latest_reading(session, ident),
            clock=ctx.clock,
            views=("consumption",),
        )
        return point_series(session, ctx.clock, page.actor, ident, rng), point.name

    return await page.read(load)


@router.get("/console/points/{point_id}/series.json")
async def point_series_json(request: Request, point_id: str) -> Response:
    """A measurement point's chart data (session-authenticated)."""
    loaded = await _point_series(request, point_id)
    if isinstance(loaded, Response):
        return loaded
    series, _ = loaded
    return JSONResponse(as_json(series, f"/console/points/{point_id}"), headers={"Cache-Control": "no-store"})


@router.get("/console/points/{point_id}/export.csv")
async def point_csv(request: Request, point_id: str, delimiter: str = ",") -> Response:
    """A point's consumption as shown, as CSV."""
    check_delimiter(delimiter)
    loaded = await _point_series(request, point_id)
    if isinstance(loaded, Response):
        return loaded
    series, name = loaded
    return _csv_response(series, name, delimiter)


def _csv_response(series: Series, name: str, delimiter: str) -> Response:
    return Response(
        series.csv(delimiter),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{_filename(name, series.rng)}"',
            "Cache-Control": "no-store",
        },
    )
