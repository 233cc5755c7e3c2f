"""Pace AWS IoT control-plane calls under their documented rates; retry throttled ones.

`ApiPacer.call(client, "CreateThing", ...)` waits for that API's next slot, 1/rate apart
(`sim.limits.IOT_API_RATE_PER_S`, shared by every thread of one job), then calls it. A call
throttled anyway (other tools share the account's quota) or failing transiently is retried
with exponential backoff. The clock is injected, so tests run on simulated time.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Collection, Mapping
from typing import Any, Protocol

from botocore import xform_name
from botocore.exceptions import ClientError

from sim.limits import IOT_API_RATE_PER_S

__all__ = ["RETRYABLE_CODES", "ApiPacer", "Clock", "SystemClock", "backoff_s", "error_code"]

# Throttling, and the transient failures AWS documents as safe to retry.
RETRYABLE_CODES = frozenset({
    "ThrottlingException", "Throttling", "TooManyRequestsException", "RequestLimitExceeded",
    "ServiceUnavailableException", "InternalFailureException",
})
# An answer with one of these HTTP statuses is a server's passing failure whatever its body
# says (a bare 500 page has no AWS error code): retried as botocore's own modes retry them.
TRANSIENT_HTTP_STATUSES = frozenset({500, 502, 503, 504})
MAX_ATTEMPTS = 8  # about a minute of backoff in all before the error is the user's
BACKOFF_BASE_S = 0.5
BACKOFF_CAP_S = 20.0


class Clock(Protocol):
    def monotonic(self) -> float: ...

    def sleep(self, seconds: float) -> None: ...


class SystemClock:
    """The real clock."""

    def monotonic(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


def error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _transient(exc: ClientError, retry_codes: Collection[str]) -> bool:
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return error_code(exc) in retry_codes or status in TRANSIENT_HTTP_STATUSES


def backoff_s(attempt: int, rng: random.Random) -> float:
    """The wait before retry `attempt` (0 first): doubling, capped, the upper half jittered
    so that threads throttled together do not retry together."""
    ceiling = min(BACKOFF_CAP_S, BACKOFF_BASE_S * 2**attempt)
    return ceiling * (0.5 + rng.random() / 2)


class ApiPacer:
    """Hands out call slots per API, `1 / rate` seconds apart, to any number of threads."""

    def __init__(
        self,
        clock: Clock | None = None,
        rates: Mapping[str, float] = IOT_API_RATE_PER_S,
        rng: random.Random | None = None,
    ) -> None:
        self.clock = clock or SystemClock()
        self.intervals = {api: 1.0 / rate for api, rate in rates.items()}
        self.retries = 0  # calls repeated after a throttle or a transient failure
        self._rng = rng or random.Random()
        self._next_slot: dict[str, float] = {}
        self._lock = threading.Lock()

    def wait(self, api: str) -> None:
        """Block until `api` may be called again; an API without a known rate is a bug."""
        interval = self.intervals[api]
        with self._lock:
            now = self.clock.monotonic()
            slot = max(now, self._next_slot.get(api, now))
            self._next_slot[api] = slot + interval
        if slot > now:
            self.clock.sleep(slot - now)

    def call(
        self, client: Any, api: str, *, retry_codes: Collection[str] = RETRYABLE_CODES,
        **params: Any,
    ) -> Any:
        """`client.<api in snake_case>(**params)`, paced, retried on `retry_codes` and on an
        HTTP 500, 502, 503 or 504."""
        method = getattr(client, xform_name(api))
        for attempt in range(MAX_ATTEMPTS):
            self.wait(api)
            try:
                return method(**params)
            except ClientError as exc:
                if not _transient(exc, retry_codes) or attempt + 1 == MAX_ATTEMPTS:
                    raise
            with self._lock:
                self.retries += 1
                pause = backoff_s(attempt, self._rng)
            self.clock.sleep(pause)
        raise AssertionError("unreachable: the last attempt returns or raises")
