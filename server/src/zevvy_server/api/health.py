"""Liveness: 200 when the database answers."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text
from starlette.concurrency import run_in_threadpool

from zevvy_server.web.deps import get_ctx

router = APIRouter()


@router.get("/healthz", include_in_schema=False)
async def healthz(request: Request) -> JSONResponse:
    """200 ``{"status": "ok"}`` when the database answers a query, else 503."""
    ctx = get_ctx(request)

    def probe() -> None:
        with ctx.db.read() as session:
            session.execute(text("SELECT 1"))

    try:
        await run_in_threadpool(probe)
    except Exception:  # noqa: BLE001 - any database failure means "not healthy"
        return JSONResponse({"status": "unavailable"}, 503)
    return JSONResponse({"status": "ok"})
