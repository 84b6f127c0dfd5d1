"""Properties, usage units, measurement points and assignments (scope `register`)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from zevvy_server.api.metering.common import (
    IdPath,
    actor_of,
    body_doc,
    error_docs,
    json_response,
    ok_doc,
    page_doc,
    page_response,
    read,
    read_body,
    scope_text,
    scoped,
    write,
)
from zevvy_server.metering.common import Actor
from zevvy_server.metering.linking import LinkingService
from zevvy_server.metering.schemas import (
    AssignmentIn,
    AssignmentOut,
    AssignmentPatch,
    BulkAssignmentRow,
    MeasurementPointIn,
    MeasurementPointOut,
    MeasurementPointPatch,
    PropertyIn,
    PropertyOut,
    PropertyPatch,
    UsageUnitIn,
    UsageUnitOut,
    UsageUnitPatch,
    convert,
    decode,
    decode_json,
    encode,
    json_schema,
)
from zevvy_server.metering.structure import AssignmentView, StructureService
from zevvy_server.metering.views import assignment_out, point_out, property_out, usage_unit_out
from zevvy_server.web.bearer import Principal
from zevvy_server.web.deps import get_ctx

router = APIRouter(tags=["structure"])

SCOPE = "register"
Limit = Annotated[int, Query(ge=1, le=1000)]
Caller = Annotated[Principal, Depends(scoped(SCOPE))]
MERGE = "application/merge-patch+json"


def _service(request: Request, principal: Principal) -> tuple[Actor, Callable[[Session], StructureService]]:
    ctx = get_ctx(request)
    return actor_of(principal), lambda session: StructureService(session, ctx.clock)


def _assignment(view: AssignmentView) -> AssignmentOut:
    return assignment_out(view.assignment, view.register_id, view.device_id)


# -- properties -----------------------------------------------------------------------------------
@router.get(
    "/properties",
    summary="List properties",
    description=scope_text(SCOPE) + " Sorted by name.",
    responses={**page_doc(PropertyOut, "A page of properties."), **error_docs(422)},
)
async def list_properties(
    request: Request, principal: Caller, limit: Limit = 100, cursor: str | None = None
) -> Response:
    actor, service = _service(request, principal)
    page = await read(request, lambda s: service(s).properties(actor, limit=limit, cursor=cursor))
    return page_response(page, property_out)


@router.post(
    "/properties",
    status_code=201,
    summary="Create a property",
    description=scope_text(SCOPE, writes=True) + " References are unique within the organization.",
    responses={
        **ok_doc(201, PropertyOut, "The new property."),
        **error_docs(409, 413, 422, conflict="reference_taken"),
    },
    openapi_extra=body_doc(
        PropertyIn, {"name": "Sonnenhof", "reference": "P-17", "address": "Hauptstrasse 1, 8000 Zürich"}
    ),
)
async def create_property(request: Request, principal: Caller) -> Response:
    actor, service = _service(request, principal)
    data = decode(await read_body(request, get_ctx(request)), PropertyIn)
    return json_response(
        property_out(await write(request, lambda s: service(s).create_property(actor, data))), 201
    )


@router.get(
    "/properties/{property_id}",
    summary="Get a property",
    description=scope_text(SCOPE),
    responses={**ok_doc(200, PropertyOut, "The property."), **error_docs(404)},
)
async def get_property(request: Request, property_id: IdPath, principal: Caller) -> Response:
    actor, service = _service(request, principal)
    return json_response(property_out(await read(request, lambda s: service(s).property(actor, property_id))))


@router.patch(
    "/properties/{property_id}",
    summary="Change a property",
    description=scope_text(SCOPE, writes=True) + " A JSON merge patch.",
    responses={
        **ok_doc(200, PropertyOut, "The property."),
        **error_docs(404, 409, 413, 422, conflict="reference_taken"),
    },
    openapi_extra=body_doc(PropertyPatch, {"name": "Sonnenhof West"}, media=MERGE),
)
async def update_property(request: Request, property_id: IdPath, principal: Caller) -> Response:
    actor, service = _service(request, principal)
    patch = decode(await read_body(request, get_ctx(request)), PropertyPatch)
    row = await write(request, lambda s: service(s).update_property(actor, property_id, patch))
    return json_response(property_out(row))


@router.delete(
    "/properties/{property_id}",
    status_code=204,
    summary="Delete a property",
    description=scope_text(SCOPE, writes=True) + " Only without usage units (409 `in_use`). Audited.",
    responses={204: {"description": "Deleted."}, **error_docs(404, 409, conflict="in_use")},
)
async def delete_property(request: Request, property_id: IdPath, principal: Caller) -> Response:
    actor, service = _service(request, principal)
    await write(request, lambda s: service(s).delete_property(actor, property_id))
    return Response(status_code=204)


# -- usage units ----------------------------------------------------------------------------------
@router.get(
    "/usage-units",
    summary="List usage units",
    description=scope_text(SCOPE) + " Sorted by name; `propertyId` filters.",
    responses={**page_doc(UsageUnitOut, "A page of usage units."), **error_docs(422)},
)
async def list_usage_units(
    request: Request,
    principal: Caller,
    property_id: Annotated[uuid.UUID | None, Query(alias="propertyId")] = None,
    limit: Limit = 100,
    cursor: str | None = None,
) -> Response:
    actor, service = _service(request, principal)
    page = await read(
        request, lambda s: service(s).usage_units(actor, property_id=property_id, limit=limit, cursor=cursor)
    )
    return page_response(page, usage_unit_out)


@router.post(
    "/usage-units",
    status_code=201,
    summary="Create a usage unit",
    description=scope_text(SCOPE, writes=True) + " References are unique within the organization.",
    responses={
        **ok_doc(201, UsageUnitOut, "The new usage unit."),
        **error_docs(404, 409, 413, 422, conflict="reference_taken"),
    },
    openapi_extra=body_doc(UsageUnitIn, {"propertyId": "0b1d…", "name": "Flat 3.2", "reference": "W-32"}),
)
async def create_usage_unit(request: Request, principal: Caller) -> Response:
    actor, service = _service(request, principal)
    data = decode(await read_body(request, get_ctx(request)), UsageUnitIn)
    return json_response(
        usage_unit_out(await write(request, lambda s: service(s).create_usage_unit(actor, data))), 201
    )


@router.get(
    "/usage-units/{unit_id}",
    summary="Get a usage unit",
    description=scope_text(SCOPE),
    responses={**ok_doc(200, UsageUnitOut, "The usage unit."), **error_docs(404)},
)
async def get_usage_unit(request: Request, unit_id: IdPath, principal: Caller) -> Response:
    actor, service = _service(request, principal)
    return json_response(usage_unit_out(await read(request, lambda s: service(s).usage_unit(actor, unit_id))))


@router.patch(
    "/usage-units/{unit_id}",
    summary="Change a usage unit",
    description=scope_text(SCOPE, writes=True) + " A JSON merge patch.",
    responses={
        **ok_doc(200, UsageUnitOut, "The usage unit."),
        **error_docs(404, 409, 413, 422, conflict="reference_taken"),
    },
    openapi_extra=body_doc(UsageUnitPatch, {"name": "Flat 3.2 (north)"}, media=MERGE),
)
async def update_usage_unit(request: Request, unit_id: IdPath, principal: Caller) -> Response:
    actor, service = _service(request, principal)
    patch = decode(await read_body(request, get_ctx(request)), UsageUnitPatch)
    row = await write(request, lambda s: service(s).update_usage_unit(actor, unit_id, patch))
    return json_response(usage_unit_out(row))


@router.delete(
    "/usage-units/{unit_id}",
    status_code=204,
    summary="Delete a usage unit",
    description=scope_text(SCOPE, writes=True) + " Only without measurement points (409 `in_use`). Audited.",
    responses={204: {"description": "Deleted."}, **error_docs(404, 409, conflict="in_use")},
)
async def delete_usage_unit(request: Request, unit_id: IdPath, principal: Caller) -> Response:
    actor, service = _service(request, principal)
    await write(request, lambda s: service(s).delete_usage_unit(actor, unit_id))
    return Response(status_code=204)


# -- measurement points ---------------------------------------------------------------------------
@router.get(
    "/measurement-points",
    summary="List measurement points",
    description=scope_text(SCOPE) + " Sorted by name; `usageUnitId` filters.",
    responses={**page_doc(MeasurementPointOut, "A page of measurement points."), **error_docs(422)},
)
async def list_points(
    request: Request,
    principal: Caller,
    usage_unit_id: Annotated[uuid.UUID | None, Query(alias="usageUnitId")] = None,
    limit: Limit = 100,
    cursor: str | None = None,
) -> Response:
    actor, service = _service(request, principal)
    page = await read(
        request, lambda s: service(s).points(actor, usage_unit_id=usage_unit_id, limit=limit, cursor=cursor)
    )
    return page_response(page, point_out)


@router.post(
    "/measurement-points",
    status_code=201,
    summary="Create a measurement point",
    description=scope_text(SCOPE, writes=True)
    + " `costType`: electricity, heat, water, gas, ev_charging, solar_production or other; "
    "`unit` defaults to kWh.",
    responses={**ok_doc(201, MeasurementPointOut, "The new point."), **error_docs(404, 413, 422)},
    openapi_extra=body_doc(
        MeasurementPointIn,
        {"usageUnitId": "0b1d…", "name": "Electricity", "costType": "electricity", "unit": "kWh"},
    ),
)
async def create_point(request: Request, principal: Caller) -> Response:
    actor, service = _service(request, principal)
    data = decode(await read_body(request, get_ctx(request)), MeasurementPointIn)
    return json_response(point_out(await write(request, lambda s: service(s).create_point(actor, data))), 201)


@router.get(
    "/measurement-points/{point_id}",
    summary="Get a measurement point",
    description=scope_text(SCOPE),
    responses={**ok_doc(200, MeasurementPointOut, "The point."), **error_docs(404)},
)
async def get_point(request: Request, point_id: IdPath, principal: Caller) -> Response:
    actor, service = _service(request, principal)
    return json_response(point_out(await read(request, lambda s: service(s).point(actor, point_id))))


@router.patch(
    "/measurement-points/{point_id}",
    summary="Change a measurement point",
    description=scope_text(SCOPE, writes=True) + " A JSON merge patch.",
    responses={**ok_doc(200, MeasurementPointOut, "The point."), **error_docs(404, 413, 422)},
    openapi_extra=body_doc(MeasurementPointPatch, {"unit": "Wh"}, media=MERGE),
)
async def update_point(request: Request, point_id: IdPath, principal: Caller) -> Response:
    actor, service = _service(request, principal)
    patch = decode(await read_body(request, get_ctx(request)), MeasurementPointPatch)
    return json_response(
        point_out(await write(request, lambda s: service(s).update_point(actor, point_id, patch)))
    )


@router.delete(
    "/measurement-points/{point_id}",
    status_code=204,
    summary="Delete a measurement point",
    description=scope_text(SCOPE, writes=True) + " Removes its assignments too. Audited.",
    responses={204: {"description": "Deleted."}, **error_docs(404)},
)
async def delete_point(request: Request, point_id: IdPath, principal: Caller) -> Response:
    actor, service = _service(request, principal)
    await write(request, lambda s: service(s).delete_point(actor, point_id))
    return Response(status_code=204)


# -- assignments ----------------------------------------------------------------------------------
_ASSIGN_RULES = (
    " `validFrom` and `validTo` are RFC 3339 instants or `YYYY-MM-DD` dates (local midnight in "
    "`timeZone`, default Europe/Zurich); the period is [validFrom, validTo), open-ended without "
    "`validTo`. A register never overlaps itself (409 `assignment_overlap` with the existing "
    "`assignmentId`); a point may have several registers at once. Audited."
)


@router.get(
    "/measurement-points/{point_id}/assignments",
    summary="List a point's assignments",
    description=scope_text(SCOPE) + " Latest validFrom first.",
    responses={**page_doc(AssignmentOut, "A page of assignments."), **error_docs(404, 422)},
)
async def list_assignments(
    request: Request, point_id: IdPath, principal: Caller, limit: Limit = 100, cursor: str | None = None
) -> Response:
    actor, service = _service(request, principal)
    page = await read(request, lambda s: service(s).assignments(actor, point_id, limit=limit, cursor=cursor))
    return page_response(page, _assignment)


@router.post(
    "/measurement-points/{point_id}/assignments",
    status_code=201,
    summary="Assign registers to a point",
    description=scope_text(SCOPE, writes=True)
    + " One assignment object, or a list of them (all or nothing; the answer is then a list)."
    + _ASSIGN_RULES,
    responses={
        **ok_doc(201, AssignmentOut, "The new assignment (a list for a list body)."),
        **error_docs(404, 409, 413, 422, conflict="assignment_overlap"),
    },
    openapi_extra=body_doc(AssignmentIn, {"registerId": "5c0e…", "validFrom": "2025-01-01"}),
)
async def create_assignments(request: Request, point_id: IdPath, principal: Caller) -> Response:
    actor, service = _service(request, principal)
    raw = decode_json(await read_body(request, get_ctx(request)))
    items = convert(raw, list[AssignmentIn]) if isinstance(raw, list) else [convert(raw, AssignmentIn)]
    views = await write(request, lambda s: service(s).assign(actor, point_id, items))
    if isinstance(raw, list):
        return Response(encode([_assignment(v) for v in views]), 201, media_type="application/json")
    return json_response(_assignment(views[0]), 201)


@router.get(
    "/assignments/{assignment_id}",
    summary="Get an assignment",
    description=scope_text(SCOPE),
    responses={**ok_doc(200, AssignmentOut, "The assignment."), **error_docs(404)},
)
async def get_assignment(request: Request, assignment_id: IdPath, principal: Caller) -> Response:
    actor, service = _service(request, principal)
    return json_response(
        _assignment(await read(request, lambda s: service(s).assignment(actor, assignment_id)))
    )


@router.patch(
    "/assignments/{assignment_id}",
    summary="Change an assignment's period",
    description=scope_text(SCOPE, writes=True)
    + " A JSON merge patch of `validFrom`/`validTo`."
    + _ASSIGN_RULES,
    responses={
        **ok_doc(200, AssignmentOut, "The assignment."),
        **error_docs(404, 409, 413, 422, conflict="assignment_overlap"),
    },
    openapi_extra=body_doc(AssignmentPatch, {"validTo": "2025-06-15T10:00:00+02:00"}, media=MERGE),
)
async def update_assignment(request: Request, assignment_id: IdPath, principal: Caller) -> Response:
    actor, service = _service(request, principal)
    patch = decode(await read_body(request, get_ctx(request)), AssignmentPatch)
    view = await write(request, lambda s: service(s).update_assignment(actor, assignment_id, patch))
    return json_response(_assignment(view))


@router.delete(
    "/assignments/{assignment_id}",
    status_code=204,
    summary="Delete an assignment",
    description=scope_text(SCOPE, writes=True) + " Audited.",
    responses={204: {"description": "Deleted."}, **error_docs(404)},
)
async def delete_assignment(request: Request, assignment_id: IdPath, principal: Caller) -> Response:
    actor, service = _service(request, principal)
    await write(request, lambda s: service(s).delete_assignment(actor, assignment_id))
    return Response(status_code=204)


@router.post(
    "/assignments/_bulk_create",
    status_code=201,
    summary="Assign many registers by references",
    description=scope_text(SCOPE, writes=True)
    + " A list of rows `{deviceReference, registerReference, usageUnitReference, costType, "
    "validFrom, validTo?, measurementPointName?, timeZone?}` (at most 10,000), in one transaction. "
    "Each row goes to the usage unit's measurement point of that cost type, created when missing "
    "(named after the cost type unless `measurementPointName` is given). An unknown reference "
    "answers 404 with the row's pointer in `details`; nothing is written then." + _ASSIGN_RULES,
    responses={
        201: {"description": "The new assignments, in row order."},
        **error_docs(404, 409, 413, 422, conflict="assignment_overlap"),
    },
    openapi_extra=body_doc(
        {"type": "array", "items": json_schema(BulkAssignmentRow)},
        [
            {
                "deviceReference": "eliona Zähler/7",
                "registerReference": "1-0:1.8.0",
                "usageUnitReference": "W-32",
                "costType": "electricity",
                "validFrom": "2025-01-01",
            }
        ],
    ),
)
async def bulk_assign(request: Request, principal: Caller) -> Response:
    ctx = get_ctx(request)
    actor = actor_of(principal)
    rows = decode(await read_body(request, ctx), list[BulkAssignmentRow])
    views = await write(request, lambda s: LinkingService(s, ctx.clock).link(actor, rows))
    return Response(encode([_assignment(v) for v in views]), 201, media_type="application/json")
