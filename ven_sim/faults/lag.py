"""Latency on one client's link to the in-process broker, both ways (a `latency` fault).

Each message waits the sum of the active faults' delays plus a uniform draw of up to each
one's jitter, on simulated time, and never overtakes the message before it on the same link
and direction: MQTT runs over one TCP stream, which keeps order whatever the delay. Jitter
is drawn from a stream per (fault, direction, topic), so how many commands or acks an event
causes never moves the draws of the telemetry.
"""

from __future__ import annotations

import random
from collections.abc import Callable

__all__ = ["LinkLag"]

Schedule = Callable[[float, Callable[[], None]], None]  # (seconds from now, what to run then)


class LinkLag:
    """The delay a client's link adds now; `carry` sends a message through it."""

    def __init__(self, name: str, now: Callable[[], float], schedule: Schedule) -> None:
        self.name = name  # "{seed}:{client ID}": the root of this link's jitter streams
        self.now = now
        self.schedule = schedule
        self.active: dict[int, tuple[float, float]] = {}  # fault number -> (delay, jitter)
        self.in_flight = 0
        self.delayed = 0  # messages this link delayed, both ways
        self._due = {"in": 0.0, "out": 0.0}  # when the latest message each way arrives
        self._streams: dict[tuple[int, str, str], random.Random] = {}

    def carry(self, direction: str, topic: str, deliver: Callable[[], None]) -> None:
        """Run `deliver` once the message has crossed the link (`direction` "in" or "out")."""
        if not self.active and not self.in_flight:
            deliver()  # a fast link with nothing on it: no detour through the clock
            return
        wait = sum(delay + (self._stream(number, direction, topic).uniform(0.0, jitter)
                            if jitter else 0.0)
                   for number, (delay, jitter) in sorted(self.active.items()))
        now = self.now()
        due = max(now + wait, self._due[direction])  # behind the one before it
        self._due[direction] = due
        self.in_flight += 1
        self.delayed += bool(self.active)

        def arrive() -> None:
            self.in_flight -= 1
            deliver()

        self.schedule(due - now, arrive)

    def _stream(self, number: int, direction: str, topic: str) -> random.Random:
        key = (number, direction, topic)
        stream = self._streams.get(key)
        if stream is None:
            stream = self._streams[key] = random.Random(
                f"{self.name}:latency{number}:{direction}:{topic}")
        return stream
