"""What a VEN's actors tell each other per interval: a round of readings is one message to the
controller, a quiet batch's Telemetry one message to a listener that takes batches, and a
Restore goes only to a circuit that was curtailed."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from typing import Any

import pytest

from actors.messages import StartEvent, Telemetry, TelemetryBatch, Tick
from actors.recorder import RecorderActor
from actors.runtime import Dispatcher, stop_actors
from actors.ven import Ven
from sim.fleetlog import FleetLog
from sim.world import World
from tests.actors.fakes import ConstantWeather, Flat, Sink

RESTORES: Counter[str] = Counter()


class CountedFlat(Flat):
    """A Flat circuit that counts the restores its actor applies to it."""

    def restore(self) -> None:
        RESTORES[self.id] += 1
        super().restore()


def house() -> list[Flat]:
    return [
        CountedFlat("ev1", 6.0, priority=8),
        CountedFlat("heater1", 4.0, priority=7),
        CountedFlat("fridge1", 0.2, priority=1, sheddable=False, critical=True),
    ]


def test_a_quiet_batch_is_one_round_and_one_telemetry_batch() -> None:
    dispatcher = Dispatcher("test")
    world = World(datetime(2026, 7, 15, tzinfo=UTC), ConstantWeather())
    ven = Ven("ven-1", house(), world, dispatcher, panel_amps=200)
    singles: list[Any] = []
    batches: list[Any] = []
    single_sink = Sink.start(dispatcher, singles)
    batch_sink = Sink.start(dispatcher, batches)
    log = FleetLog()
    recorder = RecorderActor.start(log, dispatcher=dispatcher)
    ven.subscribe(single_sink)
    ven.subscribe(batch_sink, batches=True)
    ven.subscribe(recorder, batches=True)
    dispatcher.run_until_idle()
    before = dispatcher.handled
    times = tuple(300.0 * i for i in range(1, 12))
    ven.tell(Tick(3600.0, earlier=times))  # nothing under way: one batch of 12 intervals
    dispatcher.run_until_idle()
    # The Tick, an AdvanceBatch per circuit, one round back (not one per circuit), the 12
    # Telemetry to the listener that takes them singly and one batch to each of the others.
    assert dispatcher.handled - before == 1 + 3 + 1 + 12 + 2
    assert all(isinstance(m, Telemetry) for m in singles)
    (batch,) = batches
    assert isinstance(batch, TelemetryBatch)
    assert list(batch.reports) == singles
    assert [r.t1 for r in singles] == [*times, 3600.0]
    assert [row.t1 for row in log.rows] == [*times, 3600.0]
    assert [row.power_kw for row in log.rows] == pytest.approx([10.2] * 12)
    assert log.capability_kw("ven-1") == pytest.approx(10.0)  # ev1 and heater1 shed it all
    stop_actors([*ven.refs, single_sink, batch_sink, recorder])
    dispatcher.run_until_idle()


def test_restores_go_only_to_circuits_that_were_curtailed() -> None:
    RESTORES.clear()
    dispatcher = Dispatcher("test")
    world = World(datetime(2026, 7, 15, tzinfo=UTC), ConstantWeather())
    ven = Ven("ven-1", house(), world, dispatcher, panel_amps=200, restore_stagger_s=300.0)
    seen: list[Any] = []
    sink = Sink.start(dispatcher, seen)
    ven.subscribe(sink)
    t = 0.0
    for stop, event in ((3600.0, True), (10800.0, False), (14400.0, False)):
        if event:
            ven.tell(StartEvent("evt-1", 5.0, 3600.0, correlation_id="c-1"))
        while t < stop:
            t += 300.0
            ven.tell(Tick(t))
            dispatcher.run_until_idle()
    during = [r for r in seen if isinstance(r, Telemetry) and r.event_id == "evt-1"]
    assert len(during) == 12 and during[-1].shed_kw == pytest.approx(5.0, abs=0.05)
    # Every interval's plan named all three circuits; only the one it curtailed was restored.
    assert RESTORES == {"ev1": 1}
    assert [r for r in seen if isinstance(r, Telemetry)][-1].used_kw == pytest.approx(10.2)
    stop_actors([*ven.refs, sink])
    dispatcher.run_until_idle()
