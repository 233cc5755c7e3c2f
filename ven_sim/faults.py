"""Faults on simulated time: a scenario's `faults:` list, played against the run's wire.

A `broker_outage` takes the in-process broker away for its window: every VEN (and the VTN)
sees its link drop, keeps running its physics and any event to its end, buffers what it
publishes (bounded, oldest dropped first, counted), and when the broker is back it
reconnects, replays its buffer in order and gets its shadow again. A `connection_drop` does
the same to one fleet group's VENs only (`target`); the broker holds what is sent to them
until they are back, and every other VEN goes on as if nothing happened. The run's summary
reports each fault and how much telemetry was lost or replayed.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import Any

from actors.ven import Ven
from sim.scenario import FaultSpec, FleetGroup, Scenario, ven_ids
from sim.world import iso_time
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
        self._cuts: dict[str, int] = {}  # VEN -> connection drops it is in now
        self.vens: list[Ven] = []
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
            "start": iso_time(epoch + fault.start_s, self.scenario.zone),
            "end": iso_time(epoch + fault.end_s, self.scenario.zone),
            "start_s": fault.start_s,
            "end_s": fault.end_s,
        }
        self.records.append(record)
        if fault.kind == "connection_drop":
            yield from self._drop(number, fault, record)
            return
        if fault.kind == "ven_crash":
            yield from self._crash(fault, record)
            return
        self._outages += 1
        if self._outages == 1:
            self.bus.outage(f"broker outage (fault {number}, simulated)")
        yield env.timeout(fault.duration_s)
        self._outages -= 1
        if self._outages == 0:
            self.bus.outage(None)  # reconnect, replay, resync: all at this simulated instant
        record["reconnected_s"] = env.now

    def _drop(self, number: int, fault: FaultSpec,
              record: dict[str, Any]) -> Generator[Any, Any, None]:
        """Only the target group's VENs lose their links; overlapping drops count per VEN."""
        targets = [ven_id for ven_id, group in ven_ids(self.scenario)
                   if fault.target in ("all", group.name)]
        record["target"] = fault.target
        record["vens"] = len(targets)
        for ven_id in targets:
            self._cuts[ven_id] = self._cuts.get(ven_id, 0) + 1
        self.bus.drop([v for v in targets if self._cuts[v] == 1],
                      f"connection dropped (fault {number}, simulated)")
        yield self.kernel.env.timeout(fault.duration_s)
        for ven_id in targets:
            self._cuts[ven_id] -= 1
        self.bus.drop([v for v in targets if self._cuts[v] == 0], None)
        record["reconnected_s"] = self.kernel.env.now

    def attach(self, vens: list[Ven], rebuild: Callable[[str, FleetGroup], Ven]) -> None:
        """The run's fleet (ticked in this order) and how to build a crashed VEN afresh."""
        self.vens, self.rebuild = vens, rebuild
        self._order = {ven.ven_id: i for i, ven in enumerate(vens)}

    def _crash(self, fault: FaultSpec, record: dict[str, Any]) -> Generator[Any, Any, None]:
        """The target VENs die (actors stopped, link gone, will published); after the
        fault's duration each is built afresh with the same identity and reconnects."""
        targets = [(ven_id, group) for ven_id, group in ven_ids(self.scenario)
                   if fault.target in ("all", group.name, ven_id)]
        down = [ven for ven in self.vens if ven.ven_id in dict(targets)]
        record["target"] = fault.target
        record["vens"] = len(down)
        record["reports_missed"] = len(down) * int(
            fault.duration_s // self.scenario.report_interval_s)
        yield self.kernel.env.timeout(0)  # after this instant's tick: its report is kept
        for ven in down:
            self.vens.remove(ven)  # no more ticks: it is not running
            if ven.connection is not None:
                ven.connection.crash()  # type: ignore[attr-defined]
            ven.stop()
        yield self.kernel.env.timeout(fault.duration_s)
        yield self.kernel.env.timeout(0)  # after this instant's tick: it starts from here
        for ven_id, group in targets:
            if any(ven.ven_id == ven_id for ven in down):
                fresh = self.rebuild(ven_id, group)
                at = sum(self._order[v.ven_id] < self._order[ven_id] for v in self.vens)
                self.vens.insert(at, fresh)
        record["reconnected_s"] = self.kernel.env.now

    def summary(self) -> dict[str, Any]:
        """`faults`, `telemetry_lost` and `telemetry_replayed` (nothing without faults)."""
        if not self.scenario.faults:
            return {}
        return {"faults": self.records, "telemetry_lost": self.bus.telemetry_lost,
                "telemetry_replayed": self.bus.telemetry_replayed}
