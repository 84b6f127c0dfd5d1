"""Every data page of the console under one router: home, devices, registers and charts,
properties and assignments, settings, members and the audit log."""

from __future__ import annotations

from fastapi import APIRouter

from zevvy_server.console import (
    assignments,
    charts,
    devices,
    home,
    members_pages,
    registers,
    settings,
    structure,
    uploads,
)

router = APIRouter(include_in_schema=False)
for module in (home, devices, registers, charts, structure, assignments, uploads, settings, members_pages):
    router.include_router(module.router)
