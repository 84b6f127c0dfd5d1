"""The metering API at ``/``: thin routes over the metering services."""

from fastapi import APIRouter

from zevvy_server.api.metering import consumption, devices, imports, measurements, registers, structure

router = APIRouter()
# The import routes first: routes are tried in order, and they take most requests.
for _module in (measurements, devices, registers, imports, consumption, structure):
    router.include_router(_module.router)
