"""Faults on simulated time: a scenario's `faults:` list, played against the run's wire.

A `broker_outage` takes the in-process broker away for its window: every VEN (and the VTN)
sees its link drop, keeps running its physics and any event to its end, buffers what it
publishes (bounded, oldest dropped first, counted), and when the broker is back it
reconnects, replays its buffer in order and gets its shadow again. The run's summary
reports each fault and how much telemetry was lost or replayed.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

from sim.scenario import FaultSpec, Scenario
from sim.world import iso_utc
from ven_sim.kernel import Kernel
from ven_sim.transports.base import BaseTransport
from ven_sim.transports.inprocess import InProcessTransport

__all__ = ["FaultPlayer"]


class FaultPlayer:
    """Starts and ends each fault on the kernel's clock; `summary()` says what happened."""

    def __init__(self, kernel: Kernel, scenario: Scenario,
                 transport: BaseTransport | None) -> None:
        self.kernel = kernel
        self.scenario = scenario
        self.records: list[dict[str, Any]] = []
        self._outages = 0  # overlapping outages: the broker is back when the last one ends
        if not scenario.faults:
            return
        if not isinstance(transport, InProcessTransport):
            raise ValueError("faults need a broker the run controls: add --broker inprocess")
        self.bus = transport.bus
        for number, fault in enumerate(scenario.faults, 1):
            kernel.env.process(self._play(number, fault))

    def _play(self, number: int, fault: FaultSpec) -> Generator[Any, Any, None]:
        env = self.kernel.env
        yield env.timeout(fault.start_s - env.now)
        epoch = self.scenario.start.timestamp()
        record: dict[str, Any] = {
            "kind": fault.kind,
            "start": iso_utc(epoch + fault.start_s),
            "end": iso_utc(epoch + fault.end_s),
            "start_s": fault.start_s,
            "end_s": fault.end_s,
        }
        self.records.append(record)
        self._outages += 1
        if self._outages == 1:
            self.bus.outage(f"broker outage (fault {number}, simulated)")
        yield env.timeout(fault.duration_s)
        self._outages -= 1
        if self._outages == 0:
            self.bus.outage(None)  # reconnect, replay, resync: all at this simulated instant
        record["reconnected_s"] = env.now

    def summary(self) -> dict[str, Any]:
        """`faults`, `telemetry_lost` and `telemetry_replayed` (nothing without faults)."""
        if not self.scenario.faults:
            return {}
        return {"faults": self.records, "telemetry_lost": self.bus.telemetry_lost,
                "telemetry_replayed": self.bus.telemetry_replayed}
