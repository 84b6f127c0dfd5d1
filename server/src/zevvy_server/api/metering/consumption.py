"""Consumption of registers and measurement points (scope `measurement`)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from zevvy_server.api.metering.common import (
    IdPath,
    actor_of,
    error_docs,
    json_response,
    ok_doc,
    read,
    scope_text,
    scoped,
    wants_csv,
)
from zevvy_server.metering.consumption import Consumption, ConsumptionService
from zevvy_server.metering.export import buckets_csv, check_delimiter
from zevvy_server.metering.readings import zone
from zevvy_server.metering.schemas import ConsumptionOut
from zevvy_server.metering.views import buckets_out, instant, maybe_number
from zevvy_server.web.bearer import Principal
from zevvy_server.web.deps import get_ctx

router = APIRouter(tags=["consumption"])

SCOPE = "measurement"
IntervalParam = Literal["15min", "hour", "day", "month", "year"]

_RULES = (
    " `from` and `to` are RFC 3339 instants or `YYYY-MM-DD` dates (local midnight in `timeZone`, "
    "default Europe/Zurich); buckets cover [from, to) rounded out to whole buckets, at most 100,000. "
    "Days, months and years are cut in `timeZone`, so a DST day holds 92 or 100 quarter-hours. Each "
    "bucket: `value` (exact, null when unknown), `estimated` (an edge was interpolated), `partial` "
    "(the data or the bucket does not cover it completely; never extrapolated), `resets` (counter "
    "decreases, counted as restarts from zero), `expectedSlots`/`receivedSlots` (readings expected "
    "and received in the register's period). Counters: the counter's increase across the bucket, "
    "edges interpolated linearly between neighbouring readings. Interval registers: a value stamped "
    "13:30 covers 13:15-13:30 and counts in the bucket holding that period. `total` is the exact "
    "sum when every bucket is known. CSV via `format=csv` or `Accept: text/csv` (`delimiter` `,` or `;`)."
)


def _out(result: Consumption) -> ConsumptionOut:
    return ConsumptionOut(
        register_id=result.register_id,
        measurement_point_id=result.point_id,
        unit=result.unit,
        interval=result.interval,
        time_zone=result.time_zone,
        from_=instant(result.from_us),
        to=instant(result.to_us),
        total=maybe_number(result.total),
        buckets=buckets_out(result.buckets),
    )


def _respond(request: Request, result: Consumption, fmt: str | None, delimiter: str) -> Response:
    if wants_csv(request, fmt):
        text = buckets_csv(result.buckets, zone(result.time_zone), delimiter)
        return Response(text, 200, media_type="text/csv; charset=utf-8")
    return json_response(_out(result))


@router.get(
    "/registers/{register_id}/consumption",
    summary="A register's consumption per bucket",
    description=scope_text(SCOPE) + _RULES,
    responses={**ok_doc(200, ConsumptionOut, "Consumption per bucket.", csv=True), **error_docs(404, 422)},
)
async def register_consumption(
    request: Request,
    register_id: IdPath,
    from_: Annotated[str, Query(alias="from", examples=["2024-01-01"])],
    to: Annotated[str, Query(examples=["2024-02-01T00:00:00+01:00"])],
    interval: IntervalParam = "day",
    time_zone: Annotated[str, Query(alias="timeZone", examples=["Europe/Zurich"])] = "Europe/Zurich",
    fmt: Annotated[Literal["json", "csv"] | None, Query(alias="format")] = None,
    delimiter: Literal[",", ";"] = ",",
    principal: Principal = Depends(scoped(SCOPE)),
) -> Response:
    ctx = get_ctx(request)
    actor = actor_of(principal)
    check_delimiter(delimiter)
    result = await read(
        request,
        lambda s: ConsumptionService(s, ctx.clock).register(
            actor, register_id, from_text=from_, to_text=to, interval=interval, time_zone=time_zone
        ),
    )
    return _respond(request, result, fmt, delimiter)


@router.get(
    "/measurement-points/{point_id}/consumption",
    summary="A measurement point's consumption per bucket",
    description=scope_text(SCOPE)
    + " Joins the point's registers over their assignment periods: each register counts only "
    "within [validFrom, validTo), so a meter swapped mid-month gives the right monthly total, and "
    "registers assigned at the same time (high and low tariff) add up. Values are in the point's "
    "unit (Wh/kWh/MWh and l/m3 convert exactly; a rounded conversion marks the bucket estimated); "
    "a bucket no register covers is null." + _RULES,
    responses={**ok_doc(200, ConsumptionOut, "Consumption per bucket.", csv=True), **error_docs(404, 422)},
)
async def point_consumption(
    request: Request,
    point_id: IdPath,
    from_: Annotated[str, Query(alias="from", examples=["2024-01-01"])],
    to: Annotated[str, Query(examples=["2024-02-01T00:00:00+01:00"])],
    interval: IntervalParam = "day",
    time_zone: Annotated[str, Query(alias="timeZone", examples=["Europe/Zurich"])] = "Europe/Zurich",
    fmt: Annotated[Literal["json", "csv"] | None, Query(alias="format")] = None,
    delimiter: Literal[",", ";"] = ",",
    principal: Principal = Depends(scoped(SCOPE)),
) -> Response:
    ctx = get_ctx(request)
    actor = actor_of(principal)
    check_delimiter(delimiter)
    result = await read(
        request,
        lambda s: ConsumptionService(s, ctx.clock).point(
            actor, point_id, from_text=from_, to_text=to, interval=interval, time_zone=time_zone
        ),
    )
    return _respond(request, result, fmt, delimiter)
