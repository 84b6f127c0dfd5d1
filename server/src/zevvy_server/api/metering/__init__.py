"""The metering API at ``/``: thin routes over the metering services."""

from fastapi import APIRouter

from zevvy_server.api.metering import devices, measurements, registers

router = APIRouter()
for _module in (devices, registers, measurements):
    router.include_router(_module.router)
