"""The merged timeline: shards lined up by wall-clock interval, p99s from summed buckets."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

from ven_sim.fleet.combined import merge_timelines
from ven_sim.fleet.histogram import GROWTH, Histogram
from ven_sim.fleet.timeline import (
    HIST_FILE,
    TIMELINE_FIELDS,
    interval_of,
    load_timeline,
    write_timeline,
)

INTERVALS = [interval_of(1_700_000_000.0 + 10 * k) for k in range(4)]


def _row(interval: str, t_s: float, connected: int, samples: list[float]) -> dict[str, Any]:
    hist = Histogram()
    for value in samples:
        hist.add(value)
    row = {field: 0 for field in TIMELINE_FIELDS}
    row.update(t_s=t_s, interval_start=interval, connected=connected, telemetry_per_s=10.0,
               command_rtt_p99_ms=hist.summary("p99")["p99"])
    row["histograms"] = {"command_rtt": hist.to_dict()} if samples else {}
    return row


def test_intervals_are_named_by_their_wall_clock_start() -> None:
    assert interval_of(1_700_000_009.9) == "2023-11-14T22:13:20Z"
    assert interval_of(1_700_000_010.0) == "2023-11-14T22:13:30Z"


def test_shards_merge_by_interval_into_the_p99_of_every_sample(tmp_path: Path) -> None:
    rng = random.Random(5)
    fast = {k: [rng.uniform(1, 5) for _ in range(900)] for k in range(4)}
    slow = {k: [rng.uniform(100, 300) for _ in range(100)] for k in range(1, 3)}
    # Shard a runs all four intervals; shard b starts one interval later and stops one
    # earlier: row k of b is interval k + 1, which a merge by row index would misalign.
    a = [_row(INTERVALS[k], 10.0 * k + 3, 90, fast[k]) for k in range(4)]
    b = [_row(INTERVALS[k], 10.0 * k - 6, 10, slow[k]) for k in (1, 2)]
    write_timeline(tmp_path, b)  # through the files, as a worker's shard comes back
    assert len((tmp_path / HIST_FILE).read_text().splitlines()) == len(b)
    merged = merge_timelines([a, load_timeline(tmp_path / "timeline.csv")])
    assert [row["interval_start"] for row in merged] == INTERVALS
    assert [row["connected"] for row in merged] == [90, 100, 100, 100]  # b keeps its last
    assert [row["telemetry_per_s"] for row in merged] == [10.0, 20.0, 20.0, 10.0]
    for k, row in enumerate(merged):
        samples = sorted(fast[k] + slow.get(k, []))
        exact = samples[int(0.99 * len(samples)) - 1]
        assert exact / GROWTH <= row["command_rtt_p99_ms"] <= exact * GROWTH, (k, exact)
        assert Histogram.from_dict(row["histograms"]["command_rtt"]).count == len(samples)
    # The worst shard's p99 of an interval is b's (over 100 ms); the fleet's is not.
    assert merged[1]["command_rtt_p99_ms"] < b[0]["command_rtt_p99_ms"]
