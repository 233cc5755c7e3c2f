"""The world's clock: the homes' hour of day, and output timestamps, in a scenario's zone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from sim.world import Weather, World, iso_time

CHICAGO = ZoneInfo("America/Chicago")


def test_the_homes_clock_follows_daylight_saving_in_a_named_zone() -> None:
    start = datetime(2026, 10, 31, 12, tzinfo=CHICAGO)
    world = World(start, Weather(8.0, 20.0))
    for hours in (0, 10, 14, 15, 29, 30, 35):  # the clock goes back 14 h after the start
        instant = start.timestamp() + hours * 3600.0
        local = datetime.fromtimestamp(instant, CHICAGO)
        assert world.env_at(hours * 3600.0).hour == local.hour, hours
    # A fixed offset never changes: the hour is the start's plus the elapsed time.
    fixed = World(datetime(2026, 10, 31, 12, tzinfo=timezone(timedelta(hours=-5))),
                  Weather(8.0, 20.0))
    assert fixed.env_at(30 * 3600.0).hour == 18.0


def test_iso_time_has_the_offset_of_the_instant() -> None:
    before = datetime(2026, 11, 1, 6, 30, tzinfo=UTC).timestamp()  # 01:30 CDT
    assert iso_time(before, CHICAGO) == "2026-11-01T01:30:00-05:00"
    assert iso_time(before + 3600.0, CHICAGO) == "2026-11-01T01:30:00-06:00"
    assert iso_time(before) == "2026-11-01T06:30:00Z"


def test_a_spans_step_plan_is_built_once_for_every_circuit() -> None:
    world = World(datetime(2026, 7, 15, tzinfo=UTC), Weather(22.0, 36.0))
    plan = world.step_plans[(300.0, 600.0, 60.0)]
    assert world.step_plans[(300.0, 600.0, 60.0)] is plan  # shared, not rebuilt
    assert [(env.t, dt) for env, dt in plan] == [(300.0 + 60.0 * i, 60.0) for i in range(5)]
    assert all(env is world.env_at(env.t) for env, _dt in plan)


def test_a_batch_s_plans_are_its_spans_step_plans_in_turn() -> None:
    world = World(datetime(2026, 7, 15, tzinfo=UTC), Weather(22.0, 36.0))
    plans = world.batch_plans[(300.0, (600.0, 900.0, 1000.0), 60.0)]
    assert world.batch_plans[(300.0, (600.0, 900.0, 1000.0), 60.0)] is plans  # built once
    spans = [(300.0, 600.0), (600.0, 900.0), (900.0, 1000.0)]
    assert len(plans) == len(spans)
    for plan, (t, t_end) in zip(plans, spans, strict=True):
        assert plan is world.step_plans[(t, t_end, 60.0)]  # the very plans, not rebuilt
