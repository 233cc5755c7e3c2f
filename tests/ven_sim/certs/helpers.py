"""What the certificate tests share: simulated time for the pacer."""

from __future__ import annotations

import threading


class SimClock:
    """Simulated time: sleeping moves it on at once (from any thread)."""

    def __init__(self) -> None:
        self.now = 0.0
        self._lock = threading.Lock()

    def monotonic(self) -> float:
        with self._lock:
            return self.now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.now += seconds
