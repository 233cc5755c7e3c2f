"""Telling a shared client ID from a broker that merely dropped us.

MQTT 3.1.1 shows a takeover (another connection with our client ID) only as the broker
closing the socket. One such close proves little; several within minutes mean another VEN
or client connects as this one, and the two will keep kicking each other off.
"""

from __future__ import annotations

import logging
import time
from collections import deque

__all__ = ["DUPLICATE_TAKEOVERS", "DUPLICATE_WINDOW_S", "TakeoverWatch"]

log = logging.getLogger(__name__)

# This many takeovers within the window: another client surely uses this client ID.
DUPLICATE_TAKEOVERS = 3
DUPLICATE_WINDOW_S = 300.0


class TakeoverWatch:
    """Counts one connection's takeovers; says plainly, once, when its client ID is shared."""

    def __init__(self, client_id: str) -> None:
        self.client_id = client_id
        self._times: deque[float] = deque(maxlen=DUPLICATE_TAKEOVERS)
        self._logged = False

    def explain(self, why: str) -> str:
        """`why` as it stands, or, once takeovers repeat, what is really going on."""
        now = time.monotonic()
        self._times.append(now)
        span = now - self._times[0]
        if len(self._times) < DUPLICATE_TAKEOVERS or span > DUPLICATE_WINDOW_S:
            return why
        why = (f"duplicate client ID: another VEN or client connects as {self.client_id!r} "
               f"({DUPLICATE_TAKEOVERS} takeovers in {span:.0f} s); the two keep taking the "
               "connection from each other. Give each VEN its own thing name, or stop the "
               "other one")
        if not self._logged:
            self._logged = True
            log.error("%s: %s", self.client_id, why)
        return why
