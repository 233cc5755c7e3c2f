"""`ven-sim bench sim`: what its figures are made of (no timing is asserted)."""

from __future__ import annotations

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
