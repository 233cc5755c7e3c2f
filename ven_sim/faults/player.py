"""Faults on simulated time: a scenario's `faults:` list, played against the run's wire.

A `broker_outage` takes the in-process broker away for its window: every VEN (and the VTN)
sees its link drop, keeps running its physics and any event to its end, buffers what it
publishes (bounded, oldest dropped first, counted), and when the broker is back it
reconnects, replays its buffer in order and gets its shadow again. A `connection_drop` does
the same to one fleet group's VENs only (`target`); the broker holds what is sent to them
until they are back, and every other VEN goes on as if nothing happened. A `latency` slows
a group's links both ways (`LinkLag`); a `clock_skew` sets a group's VEN clocks off, so what
they stamp on the wire (telemetry, acks) is off while what they measure is not. The run's
summary reports each fault and how much telemetry was lost or replayed.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import Any

from actors.messages import ClockSkew
from actors.ven import Ven
from sim.fleetlog import FleetLog
from sim.scenario import FaultSpec, FleetGroup, Scenario, ven_ids
from sim.world import iso_time
from ven_sim.faults.lag import LinkLag
from ven_sim.faults.network import NetworkFaults, fault_wire_problem
from ven_sim.kernel import Kernel
from ven_sim.transports.inprocess import InProcessTransport
from ven_sim.wire import Wire

__all__ = ["FaultPlayer"]


class FaultPlayer:
    """Starts and ends each fault on the kernel's clock; `summary()` says what happened."""

    def __init__(self, kernel: Kernel, scenario: Scenario, wire: Wire | None) -> None:
        self.kernel = kernel
        self.scenario = scenario
        self.records: list[dict[str, Any]] = []
        self._outages = 0  # overlapping outages: the broker is back when the last one ends
        self._cuts: dict[str, int] = {}  # VEN -> connection drops it is in now
        self._skews: dict[str, float] = {}  # VEN -> how far its clock is off now
        self.gaps: list[tuple[str, float, float]] = []  # (VEN, from, to): crashed, no reports
        self.vens: list[Ven] = []
        # What the VENs connect with: through the fault proxy when the broker is real.
        self.transport = None if wire is None else wire.transport
        self.net: NetworkFaults | None = None
        if not scenario.faults:
            return
        if wire is not None and wire.networked:  # paho to a real broker
            transport: Any = wire.transport
            problem = fault_wire_problem(scenario, str(transport.url))
            if problem is not None:
                raise ValueError(problem)
            self.net = NetworkFaults(scenario, transport, lambda: kernel.now)
            self.transport = self.net.transport
        elif not isinstance(self.transport, InProcessTransport):
            raise ValueError(fault_wire_problem(scenario, None))
        else:
            self.bus = self.transport.bus
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
        if self.net is not None and fault.kind in ("broker_outage", "connection_drop",
                                                   "latency"):  # on the proxy
            if fault.kind != "broker_outage":
                self._targets(fault, record)
            if fault.kind == "latency":
                record.update(delay_s=fault.delay_s, jitter_s=fault.jitter_s)
            yield from self.net.play(env, number, fault, record, lambda: self.vens)
            return
        plays = {"broker_outage": self._outage, "connection_drop": self._drop,
                 "ven_crash": self._crash, "latency": self._latency, "clock_skew": self._skew}
        yield from plays[fault.kind](number, fault, record)

    def _outage(self, number: int, fault: FaultSpec,
                record: dict[str, Any]) -> Generator[Any, Any, None]:
        """Every link drops for the window; overlapping outages end with the last one."""
        env = self.kernel.env
        self._outages += 1
        if self._outages == 1:
            self.bus.outage(f"broker outage (fault {number}, simulated)")
        yield env.timeout(fault.duration_s)
        self._outages -= 1
        if self._outages == 0:
            self.bus.outage(None)  # reconnect, replay, resync: all at this simulated instant
        record["reconnected_s"] = env.now

    def _targets(self, fault: FaultSpec, record: dict[str, Any]) -> list[str]:
        """The VEN ids of the fault's target group (or all), noted in its record."""
        targets = [ven_id for ven_id, group in ven_ids(self.scenario)
                   if fault.target in ("all", group.name)]
        record["target"] = fault.target
        record["vens"] = len(targets)
        return targets

    def _drop(self, number: int, fault: FaultSpec,
              record: dict[str, Any]) -> Generator[Any, Any, None]:
        """Only the target group's VENs lose their links; overlapping drops count per VEN."""
        targets = self._targets(fault, record)
        for ven_id in targets:
            self._cuts[ven_id] = self._cuts.get(ven_id, 0) + 1
        self.bus.drop([v for v in targets if self._cuts[v] == 1],
                      f"connection dropped (fault {number}, simulated)")
        yield self.kernel.env.timeout(fault.duration_s)
        for ven_id in targets:
            self._cuts[ven_id] -= 1
        self.bus.drop([v for v in targets if self._cuts[v] == 0], None)
        record["reconnected_s"] = self.kernel.env.now

    def _latency(self, number: int, fault: FaultSpec,
                 record: dict[str, Any]) -> Generator[Any, Any, None]:
        """The target's links add the fault's delay (and jitter) both ways for its window;
        overlapping latencies add up. What is on its way when it ends still arrives late."""
        record.update(delay_s=fault.delay_s, jitter_s=fault.jitter_s)
        lags = [self._lag(ven_id) for ven_id in self._targets(fault, record)]
        before = sum(lag.delayed for lag in lags)
        for lag in lags:
            lag.active[number] = (fault.delay_s, fault.jitter_s)
        yield self.kernel.env.timeout(fault.duration_s)
        for lag in lags:
            del lag.active[number]
        record["messages_delayed"] = sum(lag.delayed for lag in lags) - before

    def _lag(self, client_id: str) -> LinkLag:
        lag = self.bus.lags.get(client_id)
        if not isinstance(lag, LinkLag):
            lag = self.bus.lags[client_id] = LinkLag(
                f"{self.scenario.seed}:{client_id}", lambda: self.kernel.now, self._later)
        return lag

    def _later(self, delay_s: float, action: Callable[[], None]) -> None:
        self.kernel.env.timeout(delay_s).callbacks.append(lambda _event: action())

    def _skew(self, _number: int, fault: FaultSpec,
              record: dict[str, Any]) -> Generator[Any, Any, None]:
        """The target VENs' clocks run `offset_s` off for the window; overlapping skews add."""
        record["offset_s"] = fault.offset_s
        targets = self._targets(fault, record)
        self._shift(targets, fault.offset_s)
        yield self.kernel.env.timeout(fault.duration_s)
        self._shift(targets, -fault.offset_s)

    def _shift(self, targets: list[str], offset_s: float) -> None:
        for ven_id in targets:
            self._skews[ven_id] = self._skews.get(ven_id, 0.0) + offset_s
        self._tell_skews(ven for ven in self.vens if ven.ven_id in targets)

    def _tell_skews(self, vens: Any) -> None:
        for ven in vens:
            if ven.gateway is not None:
                ven.gateway.tell(ClockSkew(self._skews.get(ven.ven_id, 0.0)))

    def attach(self, vens: list[Ven], rebuild: Callable[[str, FleetGroup], Ven]) -> None:
        """The run's fleet (ticked in this order) and how to build a crashed VEN afresh."""
        self.vens, self.rebuild = vens, rebuild
        self._order = {ven.ven_id: i for i, ven in enumerate(vens)}

    def _crash(self, _number: int, fault: FaultSpec,
               record: dict[str, Any]) -> Generator[Any, Any, None]:
        """The target VENs die (actors stopped, link gone, will published); after the
        fault's duration each is built afresh with the same identity and reconnects."""
        targets = [(ven_id, group) for ven_id, group in ven_ids(self.scenario)
                   if fault.target in ("all", group.name, ven_id)]
        down = [ven for ven in self.vens if ven.ven_id in dict(targets)]
        record["target"] = fault.target
        record["vens"] = len(down)
        record["reports_missed"] = len(down) * int(
            fault.duration_s // self.scenario.report_interval_s)
        record["restarted"] = 0  # stays short of `vens` if the run ends before the restart
        yield self.kernel.env.timeout(0)  # after this instant's tick: its report is kept
        for ven in down:
            self.vens.remove(ven)  # no more ticks: it is not running
            if ven.connection is not None:
                ven.connection.crash()  # type: ignore[attr-defined]
            ven.stop()
        self.gaps += [(ven.ven_id, fault.start_s, fault.end_s) for ven in down]
        yield self.kernel.env.timeout(fault.duration_s)
        yield self.kernel.env.timeout(0)  # after this instant's tick: it starts from here
        restarted = []
        for ven_id, group in targets:
            if any(ven.ven_id == ven_id for ven in down):
                fresh = self.rebuild(ven_id, group)
                at = sum(self._order[v.ven_id] < self._order[ven_id] for v in self.vens)
                self.vens.insert(at, fresh)
                self._tell_skews([fresh])  # its clock is as wrong as before the crash
                restarted.append(fresh)
        record["restarted"] = len(restarted)
        if self.net is not None:  # a fresh TLS connection takes wall time: wait for it
            yield from self.net.until_connected(self.kernel.env, restarted, record)
        else:
            record["reconnected_s"] = self.kernel.env.now

    def await_links(self, grace_s: float) -> None:
        """At the run's end on a real broker, give VENs still reconnecting `grace_s`."""
        if self.net is not None:
            self.net.await_links(self.vens, grace_s, end_s=self.kernel.env.now)

    def finish(self, log: FleetLog, count: bool) -> None:
        """After the VENs closed: count on the broker what reached it (`count`), close."""
        if self.net is not None:
            if count:
                self.net.count(log)
            self.net.close()

    def summary(self, warmup_s: float = 0.0) -> dict[str, Any]:
        """`faults`, `telemetry_lost` and `telemetry_replayed` (nothing without faults);
        seconds on the scenario's own clock (after `warmup_s` of warm-up)."""
        if not self.scenario.faults:
            return {}
        for record in self.records:
            for key in ("start_s", "end_s", "reconnected_s"):
                if record.get(key) is not None:
                    record[key] -= warmup_s
        if self.net is not None:
            return {"faults": self.records, **self.net.summary()}
        return {"faults": self.records, "telemetry_lost": self.bus.telemetry_lost,
                "telemetry_replayed": self.bus.telemetry_replayed}
