"""`ven-sim bench sim`: what its figures are made of (no timing is asserted)."""

from __future__ import annotations

import pytest

from ven_sim.bench.sim import bench_sim


def test_workers_report_their_own_actor_phase_and_the_phase_covers_the_slowest() -> None:
    result = bench_sim(vens=6, hours=1.0, workers=2)
    walls = result["actors_worker_wall_s"]
    assert result["workers"] == 2
    assert len(walls) == 2
    assert all(wall > 0.0 for wall in walls)
    # The phase's wall clock runs until the last worker is done (rounding aside).
    assert result["actors_wall_s"] >= max(walls) - 0.001


def test_one_process_reports_its_actor_phase_as_its_only_worker() -> None:
    result = bench_sim(vens=2, hours=1.0)
    assert result["workers"] == 1
    assert result["actors_worker_wall_s"] == [result["actors_wall_s"]]
    assert result["overhead_vs_plain_loop"] > 0.0


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def test_headline_figures_are_each_phases_median_over_the_repeats() -> None:
    result = bench_sim(vens=2, hours=1.0, repeat=3)
    repeats = result["repeats"]
    assert result["repeat"] == 3
    assert len(repeats) == 3
    plains = [run["plain_loop_wall_s"] for run in repeats]
    actors = [run["actors_wall_s"] for run in repeats]
    assert all(wall > 0.0 for wall in plains + actors)
    # The same statistic for both phases: the median (rounding to the ms aside).
    assert abs(result["plain_loop_wall_s"] - _median(plains)) <= 0.001
    assert abs(result["actors_wall_s"] - _median(actors)) <= 0.001
    # The ratio and the rate come from those medians, not from any one repeat: within what
    # the medians' rounding to the ms (the tiny run's plain loop is a few ms) leaves open.
    plain, actor, ms = result["plain_loop_wall_s"], result["actors_wall_s"], 0.0005
    ratio = result["overhead_vs_plain_loop"]
    lowest, highest = (actor - ms) / (plain + ms), (actor + ms) / max(plain - ms, 1e-9)
    assert lowest - 0.005 <= ratio <= highest + 0.005
    ven_days_a_minute = 2 * 1.0 / 24.0 * 60.0
    rate = result["ven_days_per_wall_minute"]
    assert ven_days_a_minute / (actor + ms) - 0.05 <= rate
    assert rate <= ven_days_a_minute / (actor - ms) + 0.05


def test_workers_repeat_on_one_pool_and_report_the_median_repeats_workers() -> None:
    result = bench_sim(vens=4, hours=1.0, workers=2, repeat=2)
    repeats = result["repeats"]
    assert len(repeats) == 2
    actors = [run["actors_wall_s"] for run in repeats]
    assert abs(result["actors_wall_s"] - _median(actors)) <= 0.001
    assert len(result["actors_worker_wall_s"]) == 2


def test_a_repeat_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="repeat must be at least 1"):
        bench_sim(vens=1, hours=1.0, repeat=0)
