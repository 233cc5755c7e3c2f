"""One fleet from several shards running at once (`--workers K`, `--ray`): their live rows
combined into one progress line, and their results merged into the fleet's own outputs.

A combined row adds up what adds up (connected, reports per second, acks, CPU, RSS) and
shows the worst shard's p99 for latencies: a p99 of the whole fleet needs the histograms,
which `merge` reads from each shard's fleet.json at the end. The merged timeline.csv aligns
the shards' rows by index (each shard writes one every 10 s from its own start; they start
within a second or so of each other) with the same rules.
"""

from __future__ import annotations

import csv
import json
from itertools import zip_longest
from pathlib import Path
from typing import Any

from ven_sim.fleet.merge import merge_results
from ven_sim.fleet.results import TIMELINE_FIELDS
from ven_sim.fleet.timeline_plot import write_run_files

__all__ = ["combine_rows", "load_part", "merge_timelines", "write_merged"]

SUMMED_COLUMNS = ("connected", "opened", "telemetry_published", "telemetry_per_s",
                  "fanout_acked", "unexpected_disconnects", "cpu_cores", "rss_mb")
WORST_COLUMNS = ("t_s", "connect_p99_ms", "puback_p99_ms", "telemetry_latency_p99_ms",
                 "command_rtt_p99_ms")


def _number(value: Any) -> float | None:
    return None if value in (None, "") else float(value)


def combine_rows(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Shards' timeline rows of one moment as one row of the whole fleet."""
    combined: dict[str, Any] = {}
    for column in SUMMED_COLUMNS:
        total = sum(_number(row.get(column)) or 0.0 for row in rows)
        combined[column] = round(total, 3)
    for column in WORST_COLUMNS:
        values = [v for row in rows if (v := _number(row.get(column))) is not None]
        combined[column] = max(values) if values else None
    for column in ("connected", "opened", "telemetry_published", "fanout_acked",
                   "unexpected_disconnects"):
        combined[column] = int(combined[column])
    return combined


def merge_timelines(timelines: list[list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """Row k of the fleet from row k of each shard (a shard that stopped keeps its last)."""
    merged = []
    for moment in zip_longest(*timelines):
        rows = [row if row is not None else timeline[-1]
                for row, timeline in zip(moment, timelines, strict=True) if timeline]
        combined = combine_rows(rows)
        merged.append({field: combined[field] for field in TIMELINE_FIELDS})
    return merged


def write_merged(out: Path, parts: list[dict[str, Any]], timelines: list[list[dict[str, Any]]],
                 *, target: int) -> dict[str, Any]:
    """The fleet's fleet.json (exact histogram merge), timeline.csv and timeline.png in `out`."""
    merged = merge_results(parts)
    write_run_files(out, merged, merge_timelines(timelines), target=target,
                    title=f"{len(parts)} shards: {target:,} VENs")
    return merged


def load_timeline(path: Path) -> list[dict[str, Any]]:
    """A shard's timeline.csv as rows (numbers as text, empty cells as '')."""
    with path.open(newline="") as fh:
        return list(csv.DictReader(fh))


def load_part(folder: Path) -> tuple[dict[str, Any], list[dict[str, Any]]] | None:
    """A shard folder's fleet.json and timeline rows, or None if it wrote none."""
    try:
        part = json.loads((folder / "fleet.json").read_text())
    except (OSError, ValueError):
        return None
    return part, load_timeline(folder / "timeline.csv")
