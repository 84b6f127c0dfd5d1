"""Revisions, conflicts and their decisions, import batches and the audit log (scope `measurement`)."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from zevvy_server.api.metering.common import (
    IdPath,
    actor_of,
    error_docs,
    json_response,
    ok_doc,
    page_doc,
    page_response,
    read,
    scope_text,
    scoped,
    write,
)
from zevvy_server.metering.readings import ConflictView, ReadingService
from zevvy_server.metering.schemas import AuditOut, ConflictOut, ImportOut, Revision
from zevvy_server.metering.views import audit_out, conflict_out, import_out, revision_out
from zevvy_server.web.bearer import Principal
from zevvy_server.web.deps import get_ctx

router = APIRouter(tags=["conflicts, revisions, imports, audit"])

SCOPE = "measurement"
Limit = Annotated[int, Query(ge=1, le=1000)]


def _conflict(view: ConflictView) -> ConflictOut:
    return conflict_out(view.conflict, view.stored_now)


@router.get(
    "/registers/{register_id}/revisions",
    summary="List replaced values",
    description=scope_text(SCOPE)
    + " Every value that was replaced, by an import with `onConflict=overwrite` or by accepting a "
    "conflict, newest first, with who replaced it and the import or conflict it came from.",
    responses={**page_doc(Revision, "A page of revisions."), **error_docs(404, 422)},
)
async def list_revisions(
    request: Request,
    register_id: IdPath,
    limit: Limit = 100,
    cursor: str | None = None,
    principal: Principal = Depends(scoped(SCOPE)),
) -> Response:
    ctx = get_ctx(request)
    actor = actor_of(principal)
    page = await read(
        request,
        lambda s: ReadingService(s, ctx.clock).revisions(actor, register_id, limit=limit, cursor=cursor),
    )
    return page_response(page, revision_out)


@router.get(
    "/registers/{register_id}/conflicts",
    summary="List conflicts",
    description=scope_text(SCOPE)
    + " Values sent for a stored instant that differ from the stored value, by instant. One "
    "conflict per instant and sent value, with `count` (how often it was sent) and `lastSeenAt`; "
    "`storedValue` is the value stored now. `status` filters (`open` by default, or `accepted`, "
    "`rejected`, `all`). A rejected value sent again stays rejected (its count grows).",
    responses={**page_doc(ConflictOut, "A page of conflicts."), **error_docs(404, 422)},
)
async def list_conflicts(
    request: Request,
    register_id: IdPath,
    status: Literal["open", "accepted", "rejected", "all"] = "open",
    limit: Limit = 100,
    cursor: str | None = None,
    principal: Principal = Depends(scoped(SCOPE)),
) -> Response:
    ctx = get_ctx(request)
    actor = actor_of(principal)
    page = await read(
        request,
        lambda s: ReadingService(s, ctx.clock).conflicts(
            actor, register_id, status=status, limit=limit, cursor=cursor
        ),
    )
    return page_response(page, _conflict)


async def _decide(
    request: Request, principal: Principal, register_id: uuid.UUID, conflict_id: uuid.UUID, accept: bool
) -> Response:
    ctx = get_ctx(request)
    actor = actor_of(principal)
    view = await write(
        request,
        lambda s: ReadingService(s, ctx.clock).decide(actor, register_id, conflict_id, accept=accept),
    )
    return json_response(_conflict(view))


@router.post(
    "/registers/{register_id}/conflicts/{conflict_id}/accept",
    summary="Accept a conflict",
    description=scope_text(SCOPE, writes=True)
    + " Stores the sent value; the value it replaces is kept in the register's revisions. Audited. "
    "409 `conflict_resolved` when the conflict was already decided.",
    responses={
        **ok_doc(200, ConflictOut, "The accepted conflict."),
        **error_docs(404, 409, conflict="conflict_resolved"),
    },
)
async def accept_conflict(
    request: Request,
    register_id: IdPath,
    conflict_id: IdPath,
    principal: Principal = Depends(scoped(SCOPE)),
) -> Response:
    return await _decide(request, principal, register_id, conflict_id, True)


@router.post(
    "/registers/{register_id}/conflicts/{conflict_id}/reject",
    summary="Reject a conflict",
    description=scope_text(SCOPE, writes=True)
    + " Keeps the stored value. Audited. 409 `conflict_resolved` when the conflict was already decided.",
    responses={
        **ok_doc(200, ConflictOut, "The rejected conflict."),
        **error_docs(404, 409, conflict="conflict_resolved"),
    },
)
async def reject_conflict(
    request: Request,
    register_id: IdPath,
    conflict_id: IdPath,
    principal: Principal = Depends(scoped(SCOPE)),
) -> Response:
    return await _decide(request, principal, register_id, conflict_id, False)


@router.get(
    "/imports",
    summary="List import batches",
    description=scope_text(SCOPE)
    + " Every stored bulk-import request of the organization, newest first: who, which client, "
    "when, and its counts. Requests rejected with 4xx and dry runs store nothing and are not listed.",
    responses={**page_doc(ImportOut, "A page of import batches."), **error_docs(422)},
)
async def list_imports(
    request: Request,
    limit: Limit = 100,
    cursor: str | None = None,
    principal: Principal = Depends(scoped(SCOPE)),
) -> Response:
    ctx = get_ctx(request)
    actor = actor_of(principal)
    page = await read(
        request, lambda s: ReadingService(s, ctx.clock).imports(actor, limit=limit, cursor=cursor)
    )
    return page_response(page, import_out)


@router.get(
    "/audit",
    summary="Read the audit log",
    description=scope_text(SCOPE)
    + " The organization's append-only audit log, newest first: overwrites, conflict decisions, "
    "assignments, deletions, kind/unit changes, client and member changes. Every member may read "
    "it (viewers included): it is the record of how billing data changed. `action` filters by "
    "prefix (e.g. `conflict.`). Addresses (IP) are not shown here.",
    responses={**page_doc(AuditOut, "A page of audit events."), **error_docs(422)},
)
async def list_audit(
    request: Request,
    action: str | None = None,
    limit: Limit = 100,
    cursor: str | None = None,
    principal: Principal = Depends(scoped(SCOPE)),
) -> Response:
    ctx = get_ctx(request)
    actor = actor_of(principal)
    page = await read(
        request,
        lambda s: ReadingService(s, ctx.clock).audit(actor, action=action, limit=limit, cursor=cursor),
    )
    return page_response(page, audit_out)
