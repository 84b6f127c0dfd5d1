"""`create_app(settings)`: the only module that wires every part of the server together."""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI
from starlette.middleware.gzip import GZipMiddleware

from zevvy_server import __version__
from zevvy_server.clock import Clock
from zevvy_server.settings import Settings, load_settings
from zevvy_server.storage.engine import Database
from zevvy_server.web.context import AppContext
from zevvy_server.web.errors import install_error_handlers
from zevvy_server.web.middleware import RequestMiddleware
from zevvy_server.web.rawpath import RawPathMiddleware
from zevvy_server.web.text import refuse_nul

log = logging.getLogger("zevvy.app")

# The API documentation's sections, in reading order (not the order routes are matched in).
API_TAGS = (
    "identity",
    "devices",
    "registers",
    "measurements",
    "conflicts, revisions, imports, audit",
    "consumption",
    "structure",
)

# The cyclic garbage collector's thresholds once the server runs (CPython's defaults: 700, 10, 10).
# A request allocates thousands of objects, so the youngest generation was collected several
# times per request; fewer, larger collections cost less in all.
GC_THRESHOLDS = (10_000, 20, 20)


def _settle_garbage_collector() -> None:
    """Take what start-up allocated (modules, the app, its routes: about 100 MB of objects that
    live as long as the process) out of the collector's sight, so that a full collection no
    longer walks all of it: it took about 50 ms, which showed as the live writes' p99 latency
    (74 ms against 26 ms after, 16 clients). Then raise the thresholds. Once per process."""
    if gc.get_threshold() == GC_THRESHOLDS:
        return
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


def _start_metrics(settings: Settings) -> None:
    if not settings.metrics_addr or settings.metrics_addr == "off":
        return
    from prometheus_client import start_http_server

    host, _, port = settings.metrics_addr.rpartition(":")
    try:
        start_http_server(int(port), addr=host or "127.0.0.1")
    except OSError as exc:
        # Another worker of this host already serves the metrics port.
        log.info("metrics endpoint not started: %s", exc)


def create_app(
    settings: Settings, *, clock: Clock | None = None, db: Database | None = None, metrics: bool = True
) -> FastAPI:
    """Build the ASGI application for an already prepared database."""
    from fastapi.staticfiles import StaticFiles

    from zevvy_server.api import health
    from zevvy_server.api import metering as metering_api
    from zevvy_server.api import oauth as oauth_api
    from zevvy_server.bootstrap import session_secret
    from zevvy_server.console import auth_pages, docs_pages, guide, oauth_pages
    from zevvy_server.console import pages as console_pages
    from zevvy_server.console.framework import STATIC_DIR, error_page

    ctx = AppContext(settings=settings, db=db or Database(settings), clock=clock or Clock())
    ctx.extras["session_secret"] = session_secret(ctx.db, settings)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if metrics:
            _start_metrics(settings)
        _settle_garbage_collector()
        yield
        ctx.db.dispose()

    app = FastAPI(
        title="zevvy API",
        version=__version__,
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
        dependencies=[Depends(refuse_nul)],
        description="Self-hosted zevvy: metering API and Keycloak-compatible identity server.",
        openapi_tags=[{"name": tag} for tag in API_TAGS],
    )
    app.state.ctx = ctx
    install_error_handlers(app, html_renderer=error_page)
    # Routers are tried in this order, route by route: the metering API first, whose import
    # routes take most requests (a live meter posts every minute). No path of one router is a
    # path of another, so the order decides nothing else; the documentation keeps its own
    # order (`API_TAGS`).
    app.include_router(metering_api.router)
    app.include_router(health.router)
    app.include_router(oauth_api.router)
    app.include_router(auth_pages.router)
    app.include_router(oauth_pages.router)
    app.include_router(docs_pages.router)
    app.include_router(guide.router)
    app.include_router(console_pages.router)
    app.mount("/static/swagger", docs_pages.swagger_static(), name="swagger")
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    # Responses of 1 KiB and more go out gzip-compressed to clients that accept it.
    app.add_middleware(GZipMiddleware, minimum_size=1024)
    # Outermost first: raw-path routing must see the request before anything routes it.
    app.add_middleware(RequestMiddleware, https=settings.secure_cookies)
    app.add_middleware(RawPathMiddleware)
    return app


def app_from_environment() -> FastAPI:
    """Factory for ``uvicorn --factory`` with several workers: settings from ``ZEVVY_*``."""
    from zevvy_server.logs import configure_logging

    settings = load_settings()
    configure_logging(settings.log_format, settings.log_level)
    return create_app(settings)
