"""A fleet run over time: one row per wall-clock 10 s interval, with that interval's histograms.

Every shard closes its intervals on the same wall-clock boundaries (multiples of 10 s since
the epoch), and each row names its interval (`interval_start`, UTC), so rows of shards that
started at different moments line up by the interval they measured. The latency columns are
the p99 of the samples taken in that interval alone; the samples' log buckets go beside the
CSV in `timeline_hist.jsonl` (one line per row, same order), which is what lets a merge
compute the whole fleet's p99 of each interval exactly instead of showing the worst shard's.
"""

from __future__ import annotations

import csv
import json
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from ven_sim.fleet.histogram import Histogram
from ven_sim.fleet.process_stats import MachineCpu, busy_percent, cpu_seconds, machine_cpu, rss_mb

if TYPE_CHECKING:
    from ven_sim.fleet.runner import FleetRunner

__all__ = [
    "HIST_FILE", "LATENCY_P99_COLUMNS", "TIMELINE_FIELDS", "TIMELINE_S", "IntervalMark",
    "interval_mark", "interval_of", "load_timeline", "timeline_row", "write_timeline",
]

TIMELINE_S = 10.0  # one row per interval of this many wall-clock seconds
HIST_FILE = "timeline_hist.jsonl"
LATENCY_P99_COLUMNS = {  # timeline.csv column: the interval histogram it is the p99 of
    "connect_p99_ms": "connect",
    "puback_p99_ms": "puback",
    "telemetry_latency_p99_ms": "telemetry_latency",
    "command_rtt_p99_ms": "command_rtt",
    "fanout_p99_ms": "fanout",
    "loop_round_p99_ms": "loop_round",
    "schedule_lag_p99_ms": "schedule_lag",
}
TIMELINE_FIELDS = (
    "t_s", "interval_start", "connected", "opened", "telemetry_published", "telemetry_per_s",
    *LATENCY_P99_COLUMNS, "fanout_acked", "restore_acked", "unexpected_disconnects",
    "reconnects", "cpu_cores", "rss_mb", "machine_busy_percent",
)


def interval_of(epoch_s: float) -> str:
    """The UTC start of the 10 s interval holding `epoch_s`, as timeline rows name it."""
    start = epoch_s - epoch_s % TIMELINE_S
    return datetime.fromtimestamp(start, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class IntervalMark(NamedTuple):
    """The clocks an interval's CPU figures are measured from (and to)."""

    at: float  # time.monotonic()
    cpu: float  # this process's CPU seconds
    machine: MachineCpu | None  # the whole machine's CPU clocks (None without /proc/stat)


def interval_mark() -> IntervalMark:
    return IntervalMark(time.monotonic(), cpu_seconds(), machine_cpu())


def timeline_row(runner: FleetRunner, interval: str, *, close: bool) -> dict[str, Any]:
    """The run now, in `interval`; `telemetry_per_s` since the last close (`runner.closed`:
    its time unrounded, since from a t_s rounded to 0.1 s a second's rate is off by up to
    5 %). `close` ends the interval: the row then carries its histograms (`histograms`, each
    `Histogram.to_dict()`). `machine_busy_percent`: the whole machine's CPUs, all processes,
    and `cpu_cores`, this process's CPU seconds a second, each from the interval's start
    (`runner.interval_mark`) to now."""
    m, probe = runner.metrics, runner.probe
    t = m.now()
    opened, now = runner.interval_mark, interval_mark()
    published = m.telemetry_published
    hists = m.interval(close=close)
    closed_t, closed_published = runner.closed
    row: dict[str, Any] = {
        "t_s": round(t, 1),
        "interval_start": interval,
        "connected": m.connected,
        "opened": len(m.opened),
        "telemetry_published": published,
        "telemetry_per_s": round((published - closed_published) / max(1e-9, t - closed_t), 1),
        **p99_columns(hists),
        "fanout_acked": 0 if probe is None else probe.tally["fanout"].acked,
        "restore_acked": 0 if probe is None else probe.tally["fanout_restore"].acked,
        "unexpected_disconnects": m.unexpected_disconnects,
        "reconnects": m.reconnects,
        "cpu_cores": round((now.cpu - opened.cpu) / max(now.at - opened.at, 1e-9), 3),
        "rss_mb": round(rss_mb(), 1),
        "machine_busy_percent": busy_percent(opened.machine, now.machine),
    }
    if close:
        runner.interval_mark, runner.closed = now, (t, published)
        row["histograms"] = {name: hist.to_dict() for name, hist in hists.items() if hist.count}
    return row


def p99_columns(hists: dict[str, Histogram]) -> dict[str, float | None]:
    return {column: hists.get(name, Histogram()).summary("p99")["p99"]
            for column, name in LATENCY_P99_COLUMNS.items()}


def write_timeline(out: Path, rows: list[dict[str, Any]]) -> None:
    """timeline.csv and, beside it, each row's histograms in timeline_hist.jsonl."""
    with (out / "timeline.csv").open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=TIMELINE_FIELDS, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    with (out / HIST_FILE).open("w") as fh:
        for row in rows:
            fh.write(json.dumps({"interval_start": row["interval_start"], "t_s": row["t_s"],
                                 "histograms": row.get("histograms", {})},
                                separators=(",", ":")) + "\n")


def load_timeline(path: Path) -> list[dict[str, Any]]:
    """A timeline.csv as rows (numbers as text, empty cells as ''), each with the
    `histograms` of its line in the timeline_hist.jsonl beside it (none if it has none)."""
    with path.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    sidecar = path.with_name(HIST_FILE)
    lines = sidecar.read_text().splitlines() if sidecar.is_file() else []
    for row, line in zip(rows, lines, strict=False):
        data = json.loads(line)
        if data["interval_start"] != row.get("interval_start"):
            raise ValueError(f"{sidecar} does not match {path} ({data['interval_start']})")
        row["histograms"] = data["histograms"]
    return rows
