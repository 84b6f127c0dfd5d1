"""When and how long to wait before trying a request again."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

from zevvy._errors import NetworkError, RateLimited, ServerError, ZevvyError

__all__ = ["Retry"]


@dataclass(frozen=True)
class Retry:
    """Retries with exponential backoff and jitter on network errors, 429 and 5xx.

    A ``Retry-After`` from the server is honoured (up to `max_retry_after` seconds). Only requests
    that are safe to repeat are retried: reads, and bulk imports (re-sending stored readings
    changes nothing).

    ```python
    client = zevvy.Client(api_url, auth_url=auth_url, retry=zevvy.Retry(attempts=8))
    ```
    """

    attempts: int = 5
    """Tries in all, the first included (1: never retry)."""
    backoff: float = 0.5
    """The wait before the second try; it doubles with every further try."""
    max_backoff: float = 30.0
    """The longest wait computed by backoff."""
    max_retry_after: float = 600.0
    """The longest ``Retry-After`` honoured; a longer one ends the retries."""
    on_retry: Callable[[int, float, ZevvyError], None] | None = None
    """Called before each wait with the try that failed (1-based), the wait in seconds and the error."""

    def delay(self, attempt: int, error: ZevvyError) -> float | None:
        """Seconds to wait after try number `attempt` failed with `error`; None: give up."""
        if attempt >= self.attempts or not self.retryable(error):
            return None
        retry_after = error.retry_after if isinstance(error, RateLimited | ServerError) else None
        if retry_after is not None:
            if retry_after > self.max_retry_after:
                return None
            # A little jitter, so that many gateways told the same time do not return at once.
            return retry_after + random.uniform(0, min(1.0, self.backoff))  # noqa: S311 - not security
        ceiling = min(self.max_backoff, self.backoff * 2.0 ** (attempt - 1))
        return ceiling / 2 + random.uniform(0, ceiling / 2)  # noqa: S311 - not security

    @staticmethod
    def retryable(error: ZevvyError) -> bool:
        """True for failures that may pass on a later try."""
        return isinstance(error, NetworkError | RateLimited | ServerError)
