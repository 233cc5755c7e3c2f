"""A VEN's controller and circuit actors together, with small fake circuit models."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from typing import Any

import pytest

from actors.circuit import CircuitActor
from actors.messages import (
    Advance,
    AdvanceBatch,
    CircuitBatch,
    CircuitReading,
    EndEvent,
    EventAck,
    StartEvent,
    Telemetry,
    Tick,
)
from actors.recorder import RecorderActor
from actors.runtime import Dispatcher, stop_actors
from actors.ven import Ven
from sim.fleetlog import FleetLog, Row
from sim.models.base import Circuit
from sim.models.house import build_circuits
from sim.scenario import sample_params
from sim.world import Weather, World
from tests.actors.fakes import ConstantWeather, Flat, Sink


@pytest.fixture
def ven_and_sink():
    dispatcher = Dispatcher("test")
    world = World(datetime(2026, 7, 15, tzinfo=UTC), ConstantWeather())
    circuits = [
        Flat("ev1", 6.0, priority=8),
        Flat("heater1", 4.0, priority=7),
        Flat("fridge1", 0.2, priority=1, sheddable=False, critical=True),
    ]
    ven = Ven("ven-1", circuits, world, dispatcher, panel_amps=200, restore_stagger_s=300.0)
    seen: list[Any] = []
    sink_ref = Sink.start(dispatcher, seen)
    ven.subscribe(sink_ref)
    yield ven, seen, dispatcher
    ven.stop()
    sink_ref.stop(block=False)
    dispatcher.run_until_idle()


def drive(ven: Ven, dispatcher: Dispatcher, t_from: float, t_to: float, step: float = 300.0):
    t = t_from
    while t < t_to:
        t += step
        ven.tell(Tick(t))
        dispatcher.run_until_idle()


def telemetry(seen: list[Any]) -> list[Telemetry]:
    return [m for m in seen if isinstance(m, Telemetry)]


def test_reports_power_and_rolling_baseline(ven_and_sink) -> None:
    ven, sink, dispatcher = ven_and_sink
    drive(ven, dispatcher, 0.0, 3600.0)
    reports = telemetry(sink)
    assert len(reports) == 12
    assert reports[-1].used_kw == pytest.approx(10.2)
    assert reports[-1].baseline_kw == pytest.approx(10.2)
    assert reports[-1].event_id is None and reports[-1].shed_kw == 0.0


def test_event_sheds_by_priority_acks_and_restores_staggered(ven_and_sink) -> None:
    ven, sink, dispatcher = ven_and_sink
    drive(ven, dispatcher, 0.0, 7200.0)
    ven.tell(StartEvent("evt-1", 5.0, 3600.0, correlation_id="c-1"))
    dispatcher.run_until_idle()
    (ack,) = [m for m in sink if isinstance(m, EventAck)]
    assert ack.correlation_id == "c-1" and ack.actual_shed_kw == pytest.approx(5.0)
    by_id = {c["id"]: c for c in ack.circuits}
    assert by_id["ev1"]["curtailed_kw"] == pytest.approx(5.0)  # highest priority number first
    assert by_id["heater1"]["curtailed_kw"] == 0.0 and by_id["fridge1"]["curtailed_kw"] == 0.0
    drive(ven, dispatcher, 7200.0, 10800.0)
    during = [r for r in telemetry(sink) if 7200.0 < r.t1 <= 10800.0]
    assert all(r.event_id == "evt-1" for r in during)
    assert during[-1].shed_kw == pytest.approx(5.0, abs=0.05)
    assert during[-1].requested_kw == 5.0
    # The event ended by its own clock; circuits come back one per stagger interval.
    drive(ven, dispatcher, 10800.0, 14400.0)
    after = [r for r in telemetry(sink) if r.t1 > 10800.0]
    assert after[0].event_id is None
    assert after[-1].used_kw == pytest.approx(10.2)


def test_zero_request_is_applied_and_restore_ends_only_the_named_event(ven_and_sink) -> None:
    ven, sink, dispatcher = ven_and_sink
    drive(ven, dispatcher, 0.0, 3600.0)
    ven.tell(StartEvent.scheduled("zero", 0.0, 3600.0, 10800.0))
    ven.tell(StartEvent.scheduled("two", 2.0, 3600.0, 10800.0))
    dispatcher.run_until_idle()
    acks = [m for m in sink if isinstance(m, EventAck)]
    assert [a.event_id for a in acks] == ["zero", "two"]
    assert acks[0].requested_kw == 0.0
    ven.tell(EndEvent("zero"))
    drive(ven, dispatcher, 3600.0, 4800.0)
    last = telemetry(sink)[-1]
    assert last.event_id == "two" and last.requested_kw == 2.0
    assert last.shed_kw == pytest.approx(2.0, abs=0.05)


def test_controller_reads_no_m_and_v() -> None:
    """The controller closes its loop on its own estimate: no baseline, no counterfactual."""
    import ast
    from pathlib import Path

    import actors.controller

    tree = ast.parse(Path(actors.controller.__file__).read_text())
    imported = {
        node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
    } | {a.name for node in ast.walk(tree) if isinstance(node, ast.Import) for a in node.names}
    assert not imported & {"sim.mv", "sim.baseline", "sim.counterfactual", "sim.fleetlog"}
    # Twins' energy only passes through to the telemetry: no decision reads it.
    reads = [
        node.attr
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Load)
    ]
    assert "baseline_kw" not in reads and "counterfactual_kw" not in reads
    assert reads.count("twin_kwh") == 1  # `_take` adds it to the interval's twin energy


def test_readings_telemetry_and_rows_carry_every_field() -> None:
    # The circuit, the controller and the log build these tuples from their fields directly,
    # bypassing the NamedTuples' own __new__: a field added to one of them must be given too.
    dispatcher = Dispatcher("test")
    world = World(datetime(2026, 7, 15, tzinfo=UTC), Weather(min_c=22.0, max_c=36.0))

    def house() -> list[Circuit]:
        rng = random.Random("fields")
        return build_circuits("house", sample_params({"has_ev": True}, rng), rng)

    readings: list[Any] = []
    probe = Sink.start(dispatcher, readings)
    alone = [CircuitActor.start(model, world, probe, dispatcher=dispatcher) for model in house()]
    for ref in alone:
        ref.tell(Advance(300.0))
        ref.tell(AdvanceBatch((600.0, 900.0)))
    log = FleetLog()
    recorder = RecorderActor.start(log, dispatcher=dispatcher)
    ven = Ven("ven-1", house(), world, dispatcher, panel_amps=200)
    ven.subscribe(recorder)
    ven.subscribe(probe)
    drive(ven, dispatcher, 0.0, 900.0)
    assert [len(m) for m in telemetry(readings)] == [len(Telemetry._fields)] * 3
    singles = [m for m in readings if isinstance(m, CircuitReading)]
    batches = [m for m in readings if isinstance(m, CircuitBatch)]
    assert len(singles) == len(batches) == len(alone) == 8
    for reading in [*singles, *(r for b in batches for r in b.readings)]:
        assert len(reading) == len(CircuitReading._fields)
    assert [row.t1 for row in log.rows] == [300.0, 600.0, 900.0]
    assert all(len(row) == len(Row._fields) for row in log.rows)
    # The same house alone and in the VEN: its first interval's power is the sum of readings.
    assert log.rows[0].power_kw == pytest.approx(sum(r.power_kw for r in singles))
    stop_actors([*ven.refs, *alone, probe, recorder])
    dispatcher.run_until_idle()


@pytest.mark.parametrize("counterfactual", [True, False])
def test_a_ven_without_counterfactual_sheds_alike_and_keeps_no_twins(counterfactual) -> None:
    # A fleet's VENs keep no M&V: no twin per circuit (about 9 KB a VEN), same shed and acks.
    dispatcher = Dispatcher("test")
    world = World(datetime(2026, 7, 15, tzinfo=UTC), ConstantWeather())
    circuits = [Flat("ev1", 6.0, priority=8), Flat("heater1", 4.0, priority=7)]
    ven = Ven("ven-1", circuits, world, dispatcher, panel_amps=200,
              counterfactual=counterfactual)
    seen: list[Any] = []
    sink = Sink.start(dispatcher, seen)
    ven.subscribe(sink)
    drive(ven, dispatcher, 0.0, 3600.0)
    ven.tell(StartEvent("evt-1", 5.0, 3600.0, correlation_id="c-1"))
    drive(ven, dispatcher, 3600.0, 7200.0)
    (ack,) = [m for m in seen if isinstance(m, EventAck)]
    assert ack.actual_shed_kw == pytest.approx(5.0)
    during = [r for r in telemetry(seen) if r.t1 > 3600.0]
    assert during[-1].shed_kw == pytest.approx(5.0, abs=0.05)
    twins = [ref._actor_weakref().twin for ref in ven.refs[1:]]  # noqa: SLF001
    if counterfactual:
        assert during[-1].counterfactual_kw == pytest.approx(10.0)
        assert any(twin is not None for twin in twins)  # the EV's, curtailed
    else:
        assert all(r.counterfactual_kw is None for r in telemetry(seen))
        assert twins == [None, None]
    stop_actors([*ven.refs, sink])
    dispatcher.run_until_idle()
