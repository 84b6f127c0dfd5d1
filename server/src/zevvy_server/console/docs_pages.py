"""The API documentation: Swagger UI at /docs, served from local assets (no CDN)."""

from __future__ import annotations

from pathlib import Path

import swagger_ui_bundle
from fastapi import APIRouter
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from zevvy_server.web.middleware import CSP

router = APIRouter(include_in_schema=False)
SWAGGER_DIR = Path(swagger_ui_bundle.swagger_ui_path)
# Swagger UI sets style attributes from its scripts; scripts stay same-origin only.
DOCS_CSP = CSP.replace("style-src 'self'", "style-src 'self' 'unsafe-inline'")

_PAGE = """<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>zevvy API</title>
  <link rel="stylesheet" href="/static/swagger/swagger-ui.css">
</head>
<body>
  <h1 class="visually-hidden">zevvy API</h1>
  <div id="swagger-ui"></div>
  <script src="/static/swagger/swagger-ui-bundle.js"></script>
  <script src="/static/swagger/swagger-ui-standalone-preset.js"></script>
  <script src="/static/swagger-init.js"></script>
</body>
</html>
"""


def swagger_static() -> StaticFiles:
    """The Swagger UI assets shipped with the swagger-ui-bundle package."""
    return StaticFiles(directory=SWAGGER_DIR)


@router.get("/docs")
async def swagger_ui() -> HTMLResponse:
    """Swagger UI over /openapi.json."""
    return HTMLResponse(_PAGE, headers={"Content-Security-Policy": DOCS_CSP})
