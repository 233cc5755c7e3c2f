"""The shadow syncer's periodic reports: on a 30 s grid of each VEN's own, whatever the changes.

Syncers run on an in-process bus with sinks as their controller and gateway; the test tells
them telemetry at simulated epochs and the change messages a fan-out brings (an event ack),
and a recorder on the bus notes each shadow update with the VEN time it went at (the epoch of
the VEN's latest telemetry, the clock the syncer reports by) and whether a change asked for it.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from actors.messages import Attach, EventAck, Inbound, Telemetry
from actors.runtime import Dispatcher, stop_actors
from actors.shadow import REPORT_EVERY_S, ShadowSyncerActor
from sim import contract
from tests.actors.fakes import Sink
from ven_sim.transports.inprocess import InProcessBus, InProcessTransport

EPOCH0 = 1_784_000_000.0  # 2026-07-14, the simulated clock's zero
TOLERANCE_S = 1e-6
_events = itertools.count(1)


class Reports:
    """Every VEN's shadow updates on one bus: (VEN time, 'periodic' or 'change')."""

    def __init__(self) -> None:
        self.dispatcher = Dispatcher("shadow-schedule")
        self.bus = InProcessBus()
        self.transport = InProcessTransport(self.bus)
        self.by_ven: dict[str, list[tuple[float, str]]] = {}
        self._now: dict[str, float] = {}  # each VEN's latest telemetry epoch
        self._kind = "periodic"
        self._refs: list[Any] = []
        recorder = self.transport.open("recorder", self._on_update)
        recorder.subscribe(contract.shadow_topic("+", "update"))

    def _on_update(self, topic: str, _payload: bytes) -> None:
        parsed = contract.parse_shadow_topic(topic)
        assert parsed is not None
        ven_id = parsed[0]
        self.by_ven.setdefault(ven_id, []).append((self._now[ven_id], self._kind))

    def add(self, ven_id: str) -> Any:
        """A started syncer for `ven_id`, attached to the bus (nobody answers its get)."""
        controller = Sink.start(self.dispatcher, [])
        gateway = Sink.start(self.dispatcher, [])
        syncer = ShadowSyncerActor.start(ven_id, controller, gateway,
                                         dispatcher=self.dispatcher)
        self._refs += [controller, gateway, syncer]
        connection = self.transport.open(
            ven_id, lambda topic, payload: syncer.tell(Inbound(topic, payload)))
        syncer.tell(Attach(connection))
        self.dispatcher.run_until_idle()
        return syncer

    def telemetry(self, syncer: Any, ven_id: str, t: float, interval_s: float) -> None:
        self._now[ven_id] = EPOCH0 + t
        self._kind = "periodic"
        syncer.tell(telemetry(ven_id, t, interval_s))
        self.dispatcher.run_until_idle()

    def change(self, syncer: Any, ven_id: str) -> None:
        """A fan-out's event reaches the VEN: it acks, and reports at once."""
        self._kind = "change"
        syncer.tell(EventAck(ven_id, f"evt-{next(_events)}", None, 1.0, 1.0, ()))
        self.dispatcher.run_until_idle()

    def times(self, ven_id: str, kind: str | None = None) -> list[float]:
        """Report times in seconds of the simulated clock."""
        return [round(epoch - EPOCH0, 6) for epoch, k in self.by_ven.get(ven_id, [])
                if kind is None or k == kind]

    def close(self) -> None:
        stop_actors(self._refs)
        self.dispatcher.run_until_idle()


def telemetry(ven_id: str, t: float, interval_s: float) -> Telemetry:
    return Telemetry(ven_id, t - interval_s, t, EPOCH0 + t, 2.0, 2.0, 0.0, 0.0, None, None,
                     1.0, 0.0, 200, ())


def drive(reports: Reports, ven_id: str, ticks: Iterable[float], interval_s: float,
          changes: Iterable[float] = ()) -> None:
    """One VEN's telemetry at `ticks`, and a change right after each tick in `changes`."""
    syncer = reports.add(ven_id)
    changed = set(changes)
    for t in ticks:
        reports.telemetry(syncer, ven_id, t, interval_s)
        if t in changed:
            reports.change(syncer, ven_id)


def every(interval_s: float, first: float, until: float) -> list[float]:
    count = int((until - first) / interval_s + TOLERANCE_S) + 1
    return [first + n * interval_s for n in range(count)]


def test_periodic_reports_go_every_30_s_on_the_grid_of_the_first() -> None:
    reports = Reports()
    phase = 2.75  # a fleet VEN's telemetry slot: its first report sets the grid
    try:
        drive(reports, "ven-a", every(5.0, phase, 600.0), 5.0)
        assert reports.times("ven-a") == every(REPORT_EVERY_S, phase, 600.0)
    finally:
        reports.close()


def test_a_change_at_grid_plus_10_s_moves_the_next_periodic_report_to_grid_plus_60_s() -> None:
    reports = Reports()
    grid = 90.0
    try:
        drive(reports, "ven-a", every(5.0, 0.0, 300.0), 5.0, changes=[grid + 10])
        assert reports.times("ven-a", "change") == [grid + 10]
        after = [t for t in reports.times("ven-a") if t > grid + 10]
        assert after[:3] == [grid + 60, grid + 90, grid + 120]  # not grid + 40
    finally:
        reports.close()


def test_vens_on_different_phases_keep_them_after_a_change_at_the_same_time() -> None:
    """Both in the same 0.25 s telemetry slot, up 15 s apart: a fan-out reaches both at once,
    and afterwards each reports on its own grid again (as before it), not both together."""
    reports = Reports()
    phases = {"ven-a": 1.25, "ven-b": 16.25}
    fanout = 101.0
    try:
        syncers = {ven_id: reports.add(ven_id) for ven_id in phases}
        for t in every(0.25, 0.0, 400.0):  # the fleet's clock: 0.25 s slots
            for ven_id, phase in phases.items():
                if t >= phase and (t - phase) % 5.0 < TOLERANCE_S:
                    reports.telemetry(syncers[ven_id], ven_id, t, 5.0)
            if t == fanout:
                for ven_id, syncer in syncers.items():
                    reports.change(syncer, ven_id)
        later = {ven_id: [t for t in reports.times(ven_id, "periodic") if t > fanout + 30]
                 for ven_id in phases}
        for ven_id, phase in phases.items():
            assert later[ven_id] and all(
                (t - phase) % REPORT_EVERY_S < TOLERANCE_S for t in later[ven_id])
        assert not set(later["ven-a"]) & set(later["ven-b"])
    finally:
        reports.close()


def test_at_a_report_interval_of_30_s_or_more_every_telemetry_is_reported() -> None:
    """docs/contract.md: every controller report when report_interval is 30 s or more,
    changes or not (at 40 s the due grid point is often 10 s past a telemetry)."""
    reports = Reports()
    try:
        for interval in (30.0, 40.0, 45.0, 50.0, 300.0):
            ven_id = f"ven-{interval:g}"
            ticks = every(interval, interval, 40 * interval)
            drive(reports, ven_id, ticks, interval, changes=ticks[3:30:7])
            assert sorted(set(reports.times(ven_id))) == ticks, interval
    finally:
        reports.close()


@settings(max_examples=60, deadline=None)
@given(
    interval=st.sampled_from([1.0, 2.5, 5.0, 7.0, 10.0, 13.0, 15.0, 30.0, 40.0, 45.0, 90.0]),
    phase=st.floats(0.0, 29.75).map(lambda x: round(x * 4) / 4),
    change_at=st.lists(st.integers(0, 80), max_size=12),
)
def test_reports_other_than_on_change_are_never_closer_than_30_s(
        interval: float, phase: float, change_at: list[int]) -> None:
    """...and come at most 60 s (or one report interval, when longer) after the last report
    of any kind; with an interval that divides 30 s they are all on the VEN's grid."""
    reports = Reports()
    try:
        ticks = every(interval, phase, phase + 1200.0)
        drive(reports, "ven-a", ticks, interval,
              changes=[ticks[n] for n in change_at if n < len(ticks)])
        sent = reports.by_ven["ven-a"]  # in the order they went
        for (before, _), (t, kind) in itertools.pairwise(sent):
            if kind == "periodic":
                assert t - before >= REPORT_EVERY_S - TOLERANCE_S
                assert t - before <= max(2 * REPORT_EVERY_S, interval) + TOLERANCE_S
        periodic = reports.times("ven-a", "periodic")
        if (REPORT_EVERY_S / interval).is_integer():
            assert all((t - phase) % REPORT_EVERY_S < TOLERANCE_S for t in periodic)
    finally:
        reports.close()
