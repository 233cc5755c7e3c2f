"""Occupants' overrides: the chance rises with discomfort, drawn from per-event streams."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from sim.occupants import Occupants, OptOutSpec, opt_out_chance, opt_out_summary


def _event(event_id: str, end: float = 7200.0) -> SimpleNamespace:
    return SimpleNamespace(event_id=event_id, end=end, opted_out=False)


def test_off_unless_asked() -> None:
    assert OptOutSpec.from_dict(None) is None
    assert OptOutSpec.from_dict({}) is None
    assert OptOutSpec.from_dict({"opt_out": {"per_hour_at_1c": 0.2}}) == OptOutSpec(0.2)


def test_chance_rises_with_discomfort() -> None:
    assert opt_out_chance(0.5, 0.0) == 0.0
    chances = [opt_out_chance(0.5, dm) for dm in (5.0, 30.0, 60.0, 300.0)]
    assert chances == sorted(chances) and len(set(chances)) == 4
    # One degree-hour at 0.5 per hour: 1 - e^-0.5.
    assert opt_out_chance(0.5, 60.0) == pytest.approx(0.3935, abs=1e-4)


def test_more_discomfort_opts_out_no_later() -> None:
    def first_out(degree_minutes: float) -> int:
        occupants = Occupants(OptOutSpec(0.3), 42, "ven-1")
        for k in range(200):
            if occupants.decide([_event("e", end=1e9)], 300.0 * k, degree_minutes):
                return k
        return 200

    times = [first_out(dm) for dm in (2.0, 5.0, 10.0, 20.0)]
    assert times == sorted(times, reverse=True) and times[0] > times[-1]


def test_one_draw_per_event_per_interval_whatever_happens() -> None:
    # Event b's draws are the same with or without event a running beside it, and whether
    # or not anyone is uncomfortable: no stream shifts another.
    alone = Occupants(OptOutSpec(1.0), 7, "ven-1")
    both = Occupants(OptOutSpec(1.0), 7, "ven-1")
    for k in range(6):
        alone.decide([_event("b")], 300.0 * k, 0.0)
        both.decide([_event("a"), _event("b")], 300.0 * k, 0.0)
    assert alone._streams["b"].random() == both._streams["b"].random()


def test_marks_the_events_it_leaves_and_skips_those_ending_now() -> None:
    occupants = Occupants(OptOutSpec(100.0), 1, "ven-1")
    running, ending = _event("run"), _event("end", end=300.0)
    assert occupants.decide([running, ending], 300.0, 60.0) == ["run"]
    assert running.opted_out and not ending.opted_out
    assert occupants.opted_out == {"run"}


def test_summary() -> None:
    outs = [("v1", "e", 30.0), ("v2", "e", 10.0), ("v3", "other", 5.0)]
    assert opt_out_summary(outs, "e", 8) == {
        "count": 2, "share": 0.25, "minutes_into_event": [10.0, 30.0],
        "minutes_into_event_p50": 20.0,
    }
    assert opt_out_summary([], "e", 8)["minutes_into_event_p50"] is None
