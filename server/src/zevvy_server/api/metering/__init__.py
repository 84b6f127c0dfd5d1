"""The metering API at ``/``: thin routes over the metering services."""

from fastapi import APIRouter

from zevvy_server.api.metering import consumption, devices, imports, measurements, registers, structure

router = APIRouter()
for _module in (devices, registers, measurements, imports, consumption, structure):
    router.include_router(_module.router)
