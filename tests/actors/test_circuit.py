"""A circuit actor's readings: one interval at a time (`Advance`, a fleet's every tick) or a
batch of intervals at once (`AdvanceBatch`), the same readings to the last bit, for every kind
of circuit a house has, curtailed or not, with or without a twin."""

from __future__ import annotations

import itertools
import math
import random
from datetime import UTC, datetime
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from actors.circuit import CircuitActor
from actors.messages import Advance, AdvanceBatch, CircuitBatch, Curtail, Fork
from actors.runtime import Dispatcher, stop_actors
from sim.models.house import TEMPLATES, build_circuits
from sim.records import CircuitReading
from sim.world import Weather, World
from tests.actors.fakes import Sink

START = datetime(2026, 7, 15, 14, tzinfo=UTC)


def _same(a: CircuitReading, b: CircuitReading) -> bool:
    """Field by field, floats to the bit (a NaN equal to a NaN)."""
    for x, y in zip(a, b, strict=True):
        if isinstance(x, float) and isinstance(y, float):
            if not (x == y and math.copysign(1.0, x) == math.copysign(1.0, y)
                    or math.isnan(x) and math.isnan(y)):
                return False
        elif x != y:
            return False
    return True


def _readings(template: str, seed: int, times: tuple[float, ...], batch: bool,
              curtail_kw: float, fork: bool) -> list[list[CircuitReading]]:
    """Each circuit of one house stepped to `times`, one Advance a time or one AdvanceBatch,
    after an optional Fork (a twin stepped beside) and Curtail of every circuit."""
    dispatcher = Dispatcher("test")
    world = World(START, Weather(min_c=21.0, max_c=34.0))
    seen: list[Any] = []
    sink = Sink.start(dispatcher, seen)
    circuits = build_circuits(template, {}, random.Random(seed))
    refs = [CircuitActor.start(model, world, sink, physics_step_s=60.0, dispatcher=dispatcher)
            for model in circuits]
    dispatcher.run_until_idle()
    for ref in refs:
        if fork:
            ref.tell(Fork("e1", None, times[-1]))
        if curtail_kw:
            ref.tell(Curtail(curtail_kw))
    dispatcher.run_until_idle()
    per_circuit: dict[str, list[CircuitReading]] = {model.id: [] for model in circuits}
    for ref in refs:
        if batch:
            ref.tell(AdvanceBatch(times))
        else:
            for t in times:
                ref.tell(Advance(t))
    dispatcher.run_until_idle()
    for message in seen:
        if isinstance(message, CircuitBatch):
            per_circuit[message.circuit_id].extend(message.readings)
        else:
            per_circuit[message.circuit_id].append(message)
    stop_actors([*refs, sink])
    dispatcher.run_until_idle()
    return list(per_circuit.values())


@settings(max_examples=12, deadline=None)
@given(
    template=st.sampled_from(sorted(TEMPLATES)),
    seed=st.integers(0, 2**32),
    spans=st.lists(st.sampled_from((5.0, 30.0, 60.0, 90.0, 300.0, 450.0)),
                   min_size=1, max_size=6),
    curtail_kw=st.sampled_from((0.0, 0.4, 3.0)),
    fork=st.booleans(),
)
def test_one_interval_at_a_time_reads_as_a_batch(template: str, seed: int, spans: list[float],
                                                 curtail_kw: float, fork: bool) -> None:
    times = tuple(itertools.accumulate(spans))
    singles = _readings(template, seed, times, False, curtail_kw, fork)
    batched = _readings(template, seed, times, True, curtail_kw, fork)
    assert [len(r) for r in singles] == [len(times)] * len(singles)
    for one_by_one, at_once in zip(singles, batched, strict=True):
        assert all(_same(a, b) for a, b in zip(one_by_one, at_once, strict=True)), (
            one_by_one[0].circuit_id)
        assert [r.t for r in one_by_one] == list(times)

