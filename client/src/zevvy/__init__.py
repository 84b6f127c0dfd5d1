"""zevvy: push meter readings to a zevvy server (self-hosted or hosted) from Python or a shell.

```python
import zevvy

client = zevvy.Client("https://api.zevvy.org", auth_url="https://iam.zevvy.org/realms/zevvy-prod",
                      client_id="...", client_secret="...", token_store=zevvy.FileTokenStore("tokens.json"))
client.login()
client.bulk_create("cs-p1", "energy", [("2024-06-03T00:15:00+02:00", 1234)])
```
"""

from zevvy._async_client import AsyncClient
from zevvy._client import Client
from zevvy._errors import (
    AuthenticationError,
    AuthorizationDenied,
    AuthorizationExpired,
    BulkConflict,
    Conflict,
    NetworkError,
    NotFound,
    PayloadTooLarge,
    PermissionDenied,
    RateLimited,
    ServerError,
    ValidationError,
    ZevvyError,
)
from zevvy._models import (
    BulkResult,
    ConflictSample,
    Consumption,
    ConsumptionBucket,
    Device,
    DeviceAuthorization,
    ImportBatch,
    Measurement,
    Page,
    Register,
    SeriesRef,
    Tokens,
)
from zevvy._retry import Retry
from zevvy._tokens import FileTokenStore, MemoryTokenStore, TokenStore

__version__ = "0.1.0"

__all__ = [
    "AsyncClient",
    "AuthenticationError",
    "AuthorizationDenied",
    "AuthorizationExpired",
    "BulkConflict",
    "BulkResult",
    "Client",
    "Conflict",
    "ConflictSample",
    "Consumption",
    "ConsumptionBucket",
    "Device",
    "DeviceAuthorization",
    "FileTokenStore",
    "ImportBatch",
    "Measurement",
    "MemoryTokenStore",
    "NetworkError",
    "NotFound",
    "Page",
    "PayloadTooLarge",
    "PermissionDenied",
    "RateLimited",
    "Register",
    "Retry",
    "SeriesRef",
    "ServerError",
    "TokenStore",
    "Tokens",
    "ValidationError",
    "ZevvyError",
    "__version__",
]
