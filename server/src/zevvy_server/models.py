"""Every table of the server, gathered for migrations and schema checks."""

from __future__ import annotations

from sqlalchemy import MetaData

# Importing the model modules registers their tables on the shared metadata.
from zevvy_server.identity import models as _identity  # noqa: F401
from zevvy_server.metering import models as _metering  # noqa: F401
from zevvy_server.oauth import models as _oauth  # noqa: F401
from zevvy_server.storage import state as _state  # noqa: F401
from zevvy_server.storage.base import Base

metadata: MetaData = Base.metadata
