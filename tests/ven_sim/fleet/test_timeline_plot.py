"""timeline.png: every line drawn is a column of timeline.csv."""

from __future__ import annotations

import csv
from pathlib import Path

from ven_sim.fleet.results import TIMELINE_FIELDS
from ven_sim.fleet.timeline_plot import LATENCY_COLUMNS, read_timeline, write_timeline_png

ROWS = [  # a ramp, then steady; connect p99 known from the start, round trips later
    {"t_s": 10.0, "connected": 400, "telemetry_per_s": 12.5, "connect_p99_ms": 31.0,
     "puback_p99_ms": 2.0, "telemetry_latency_p99_ms": "", "command_rtt_p99_ms": ""},
    {"t_s": 20.0, "connected": 900, "telemetry_per_s": 150.0, "connect_p99_ms": 44.0,
     "puback_p99_ms": 2.5, "telemetry_latency_p99_ms": 7.0, "command_rtt_p99_ms": 12.0},
    {"t_s": 27.3, "connected": 1000, "telemetry_per_s": 201.0, "connect_p99_ms": 45.0,
     "puback_p99_ms": 2.4, "telemetry_latency_p99_ms": 6.5, "command_rtt_p99_ms": 15.0},
]


def write_csv(path: Path) -> None:
    with path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=TIMELINE_FIELDS, restval="0")
        writer.writeheader()
        writer.writerows(ROWS)


def test_the_plotted_series_are_the_csv_columns(tmp_path: Path) -> None:
    write_csv(tmp_path / "timeline.csv")
    png = tmp_path / "timeline.png"
    drawn = write_timeline_png(tmp_path / "timeline.csv", png, title="test", target=1000)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
    t = [10.0, 20.0, 27.3]
    assert drawn["connected"] == (t, [400.0, 900.0, 1000.0])
    assert drawn["telemetry_per_s"] == (t, [12.5, 150.0, 201.0])
    assert drawn["connect_p99_ms"] == (t, [31.0, 44.0, 45.0])
    # Empty cells (no samples yet) are left out, not drawn as zero.
    assert drawn["command_rtt_p99_ms"] == ([20.0, 27.3], [12.0, 15.0])
    assert set(drawn) == {"connected", "telemetry_per_s", *LATENCY_COLUMNS}
    assert read_timeline(tmp_path / "timeline.csv")["telemetry_latency_p99_ms"][0] is None
