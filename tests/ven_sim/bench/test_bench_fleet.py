"""`ven-sim bench fleet --workers K` and `bench fleet-workers --skip-single`, at small sizes.

The merged figures are checked against ground truth: the workers' own fleet.json files (every
VEN's connect, the fan-out's acks), not against what the merge computed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ven_sim.bench.fleet import SHADOW_NICENESS, fleet_figures
from ven_sim.broker.mosquitto import Mosquitto
from ven_sim.fleet.histogram import Histogram

VENS = 40
WORKERS = 2


@pytest.fixture(scope="module")
def bench_run(mosquitto: Mosquitto, tmp_path_factory: pytest.TempPathFactory,
              ) -> tuple[dict, Path]:
    runs = tmp_path_factory.mktemp("bench-fleet")
    figures = fleet_figures(mosquitto, runs, VENS, 8.0, workers=WORKERS, ramp=100.0,
                            telemetry_interval_s=1.0, probe_rate=5.0, say=lambda _line: None)
    return figures, runs / f"workers-{WORKERS}"


def test_every_ven_of_every_worker_connected_and_acked_the_fanout(
    bench_run: tuple[dict, Path],
) -> None:
    figures, out = bench_run
    shards = [json.loads((out / f"shard-{i}" / "fleet.json").read_text())
              for i in range(WORKERS)]
    connected = {cid for shard in shards for cid, _, up in shard["connects"] if up is not None}
    assert connected == {f"bench-{i:06d}" for i in range(VENS)}
    assert figures["workers"] == WORKERS
    assert figures["vens_connected"] == VENS and figures["fanout_acked"] == VENS
    assert figures["unexpected_disconnects"] == 0
    fanout = Histogram()
    for shard in shards:
        fanout.merge(Histogram.from_dict(shard["histograms"]["fanout"]))
    assert fanout.count == VENS
    assert figures["fanout_ms"] == fanout.summary("p50", "p99", "max")  # exact, not averaged
    stages = figures["fanout_stages_ms"]
    assert 0 < stages["received"]["p50"] <= stages["ack_sent"]["p50"] <= figures["fanout_ms"]["p50"]


def test_cpu_and_memory_are_the_workers_sums(bench_run: tuple[dict, Path]) -> None:
    figures, out = bench_run
    shards = [json.loads((out / f"shard-{i}" / "fleet.json").read_text())
              for i in range(WORKERS)]
    assert figures["cpu_seconds"] == pytest.approx(sum(s["cpu_seconds"] for s in shards))
    added = sum(s["rss_mb"] - s["rss_mb_before_vens"] for s in shards)
    assert figures["rss_kb_per_ven"] == pytest.approx(added * 1024 / VENS, abs=0.1)
    assert figures["rss_kb_per_ven"] > 0
    rounds = figures["loop_round_ms"]
    assert 0 <= rounds["p50"] <= rounds["p99"] <= rounds["max"]
    assert sum(Histogram.from_dict(s["histograms"]["loop_round"]).count for s in shards) > 0
    # The fleet's latest step is the latest of any shard's (their histograms merged).
    assert figures["schedule_lag_ms"]["max"] == max(s["schedule_lag_ms"]["max"] for s in shards)


def test_fleet_workers_can_skip_the_one_process_run() -> None:
    # Its own mosquitto, as a user runs it.
    command = [sys.executable, "-m", "ven_sim", "bench", "fleet-workers", "--vens", "20",
               "--workers", "2", "--duration", "10", "--ramp", "100", "--skip-single"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=180, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    figures = json.loads(result.stdout)
    assert "workers_1" not in figures and "connect_rate_ratio" not in figures
    run = figures["workers_2"]
    assert run["vens_connected"] == 20 and run["fanout"]["acked"] == 20
    assert "--workers 1" not in result.stderr and "--workers 2" in result.stderr


def test_the_broker_and_shadow_service_cpu_over_the_run_is_reported(
    bench_run: tuple[dict, Path],
) -> None:
    """They share the load generator's cores here (AWS's would not): both did work in the
    run (every VEN connected, reported its shadow and acked), none of it more than the
    run's wall time on every core."""
    figures, _ = bench_run
    for name in ("mosquitto_cpu_seconds", "shadow_service_cpu_seconds"):
        assert 0 < figures[name] <= figures["duration_s"] * figures["cpus"], name
    # So does the whole machine's business, which the fleet's workers report as they read it.
    assert 0 < figures["machine_busy_percent_max"] <= 100
    assert 0 <= figures["machine_saturated_s"] <= figures["duration_s"]
    # And how fast this machine ran Python around the run, to compare runs across machines.
    assert figures["python_speed"]["before"] > 0 and figures["python_speed"]["after"] > 0


def test_the_shadow_service_runs_low_and_its_lag_is_reported(
    bench_run: tuple[dict, Path],
) -> None:
    """By default the service yields these cores (nice 10, read back from /proc); its lag,
    the probe's update to `update/accepted`, was measured over the whole run (10 requests a
    second, every one answered) and over the fan-out's window (which the probe saw open)."""
    figures, _ = bench_run
    assert figures["shadow_service_priority"] == "low"
    assert figures["shadow_service_nice"] == min(os.nice(0) + SHADOW_NICENESS, 19)
    lag = figures["shadow_reply_ms"]
    assert lag["unanswered"] == 0
    assert lag["requests"] >= figures["duration_s"] * 1000 / lag["interval_ms"] / 2
    assert 0 < lag["p50"] <= lag["p99"] <= lag["max"] < figures["duration_s"] * 1000
    window = lag["fanout"]
    assert window is not None and window["window_s"] > 0
    assert window["requests"] <= lag["requests"]
