"""A paced run's faults on a real broker: the VENs connect through a `FaultProxy`.

Each fleet group gets a route (a port of the proxy) and its VENs a transport to it, on the
run's own network loop; the VTN and a telemetry counter connect to the broker directly, so
a fault cuts the VENs off and nothing else. The counter subscribes to every VEN's
`ven/telemetry/{venId}` on the broker itself: what arrived there, against the reports the
VENs made (the run's log), is `telemetry_lost`, counted where it matters.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable, Generator
from typing import TYPE_CHECKING, Any

from actors.ven import Ven
from sim import contract
from sim.fleetlog import FleetLog
from sim.scenario import FaultSpec, Scenario, ven_ids
from ven_sim.faults.proxy import FaultProxy
from ven_sim.transports.base import BaseConnection, BaseTransport, MessageHandler, StateHandler
from ven_sim.transports.endpoints import BrokerURL

if TYPE_CHECKING:  # paho is loaded by the run's wire, not by importing this module
    from ven_sim.transports.paho import PahoTransport

__all__ = ["NetworkFaults", "fault_wire_problem"]

LOOPBACK = ("127.0.0.1", "localhost")
COUNT_SETTLE_S = 5.0  # how long the counter waits for the last reports to reach it
RECONNECT_POLL_S = 0.05  # wall seconds between looks at whether the VENs are back


def fault_wire_problem(scenario: Scenario, broker: str | None) -> str | None:
    """Why the faults of `scenario` cannot play on `broker` (a `--broker` value), or None."""
    if not scenario.faults or broker == "inprocess":
        return None
    if broker is None:
        return ("this scenario has faults: they play on a broker the run controls, add "
                "--broker inprocess (or a broker on this machine, mqtts://127.0.0.1:PORT)")
    try:
        host = BrokerURL.parse(broker).host if "://" in broker else "127.0.0.1"
    except ValueError:
        return None  # not a URL at all: opening the wire says what is wrong with it
    if broker == "aws" or host not in LOOPBACK:
        return ("faults on a network broker pass through a proxy on this machine: the broker "
                "must be on it too (mqtts://127.0.0.1:PORT or embedded), or use --broker "
                "inprocess")
    return None


class NetworkFaults:
    """The proxy, the VENs' routed transport and the broker-side telemetry counter."""

    def __init__(self, scenario: Scenario, direct: PahoTransport,
                 now: Callable[[], float]) -> None:
        self.scenario = scenario
        self.now = now  # simulated seconds, for when each report arrived
        self.group_of = {ven_id: group.name for ven_id, group in ven_ids(scenario)}
        url = direct.url
        self.proxy = FaultProxy(url.host, url.port, [g.name for g in scenario.fleet],
                                seed=scenario.seed).start()
        self.routes = {name: direct.sibling(BrokerURL(url.scheme, url.host, self.proxy.port(name)))
                       for name in self.proxy.routes}
        self.transport = _RoutedTransport(direct, self.routes, self.group_of)
        self._lock = threading.Lock()
        self.arrived: dict[tuple[str, int], float] = {}  # (VEN, timestamp) -> first arrival
        self.counter = direct.open(f"fault-counter-{uuid.uuid4().hex[:8]}", self._on_telemetry)
        self.counter.subscribe(contract.EVERY_VEN.telemetry)
        self.lost: int | None = None  # None: not counted (a run stopped by a signal)
        self.replayed: int | None = None
        self.windows: list[tuple[float, float, str | None]] = []  # links cut: start, end, target
        self._reconnecting: list[tuple[dict[str, Any], list[Ven]]] = []  # records still None

    def play(self, env: Any, number: int, fault: FaultSpec, record: dict[str, Any],
             vens: Callable[[], list[Ven]]) -> Generator[Any, Any, None]:
        """Play a broker_outage, connection_drop or latency on the proxy for its window.

        A latency's delay is simulated time: the proxy holds each chunk delay / speed wall
        seconds. After a cut, the record says when (simulated) every VEN it hit was back.
        """
        routes = [name for name in self.proxy.routes if fault.target in (None, "all", name)]
        speed = float(self.scenario.speed)
        if fault.kind == "latency":
            before = self.proxy.stats.delayed_chunks
            self.proxy.slow(routes, number, fault.delay_s / speed, fault.jitter_s / speed)
            yield env.timeout(fault.duration_s)
            self.proxy.unslow(routes, number)
            record["chunks_delayed"] = self.proxy.stats.delayed_chunks - before
            return
        self.windows.append((fault.start_s, fault.end_s, fault.target))
        self.proxy.cut(routes)
        yield env.timeout(fault.duration_s)
        self.proxy.restore(routes)
        yield from self.until_connected(
            env, [ven for ven in vens() if self.group_of[ven.ven_id] in routes], record)

    def until_connected(self, env: Any, vens: list[Ven],
                        record: dict[str, Any]) -> Generator[Any, Any, None]:
        """Set the record's `reconnected_s` to when (simulated) every one of `vens` is
        connected to the broker again: None until then, and if the run ends first."""
        record["reconnected_s"] = None
        waiting = (record, vens)
        self._reconnecting.append(waiting)
        while not _all_up(vens):
            yield env.timeout(RECONNECT_POLL_S * float(self.scenario.speed))
        self._reconnecting.remove(waiting)
        record["reconnected_s"] = env.now

    def await_links(self, vens: list[Ven], grace_s: float, end_s: float) -> None:
        """At the run's end, let VENs still reconnecting get back and send what they kept.

        Reconnect backoff runs on the wall clock, so on a busy machine a cut's VENs can be
        back only after the run's last simulated second. A paced run's clock runs at `speed`,
        so such a record is dated past `end_s` by the wall time it took, at that speed.
        """
        started = time.monotonic()
        deadline = started + grace_s
        while time.monotonic() < deadline and not all(
                ven.connection is None or ven.connection.connected for ven in vens):
            self._date_late_reconnects(end_s, started)
            time.sleep(RECONNECT_POLL_S)
        self._date_late_reconnects(end_s, started)

    def _date_late_reconnects(self, end_s: float, started: float) -> None:
        for waiting in [w for w in self._reconnecting if _all_up(w[1])]:
            self._reconnecting.remove(waiting)
            late_s = (time.monotonic() - started) * float(self.scenario.speed)
            waiting[0]["reconnected_s"] = end_s + late_s

    def summary(self) -> dict[str, Any]:
        stats = self.proxy.stats
        return {"telemetry_lost": self.lost, "telemetry_replayed": self.replayed,
                "telemetry_counted_on": "broker",
                "proxy": {"connections": stats.accepted, "refused": stats.refused,
                          "cut": stats.cut}}

    def _on_telemetry(self, topic: str, payload: bytes) -> None:
        try:
            report = json.loads(payload)
        except ValueError:
            return
        if not isinstance(report, dict) or not isinstance(report.get("timestamp"), int):
            return
        with self._lock:
            self.arrived.setdefault((str(report.get("venId")), report["timestamp"]), self.now())

    def count(self, log: FleetLog) -> None:
        """Reports made (rows of the log) that never reached the broker, and those that
        reached it only after the link fault covering them ended (replayed)."""
        epoch = self.scenario.start.timestamp()
        made = {(row.ven_id, int(round(epoch + row.t1))) for row in log.rows}
        deadline = time.monotonic() + COUNT_SETTLE_S
        while time.monotonic() < deadline:
            with self._lock:
                if made <= self.arrived.keys():
                    break
            time.sleep(0.05)  # the broker is still passing the last reports on
        with self._lock:
            arrived = dict(self.arrived)
        self.lost = len(made - arrived.keys())
        self.replayed = sum(
            1 for (ven_id, stamp), at in arrived.items() if (ven_id, stamp) in made
            and any(start <= stamp - epoch < end <= at
                    and target in (None, "all", self.group_of.get(ven_id))
                    for start, end, target in self.windows))

    def close(self) -> None:
        self.counter.close()
        for transport in self.routes.values():
            transport.close()
        self.proxy.close()


class _RoutedTransport(BaseTransport):
    """Each VEN through its group's route; anything else (the VTN) to the broker directly."""

    def __init__(self, direct: PahoTransport, routes: dict[str, PahoTransport],
                 group_of: dict[str, str]) -> None:
        self.direct, self.routes, self.group_of = direct, routes, group_of

    def open(self, client_id: str, on_message: MessageHandler,
             on_state: StateHandler | None = None, *,
             will: tuple[str, bytes] | None = None) -> BaseConnection:
        group = self.group_of.get(client_id)
        transport = self.direct if group is None else self.routes[group]
        return transport.open(client_id, on_message, on_state, will=will)

    def close(self) -> None:
        """The routes are closed by `NetworkFaults.close`, the direct one with the wire."""


def _all_up(vens: list[Ven]) -> bool:
    return all(ven.connection is not None and ven.connection.connected for ven in vens)
