"""One fleet from several shards running at once (`--workers K`, `--ray`): their live rows
combined into one progress line, and their results merged into the fleet's own outputs.

A live combined row adds up what adds up (connected, reports per second, acks, CPU, RSS)
and shows the worst shard's p99 for latencies. The merged timeline.csv is exact instead: the
shards' rows are lined up by the wall-clock interval they measured (`interval_start`), and
each latency column is the p99 of the shards' histograms of that interval added bucket by
bucket (timeline_hist.jsonl), the p99 of every sample the fleet took in those 10 s. A shard
with no row in an interval (it started later, or stopped) counts with its latest row for
the running totals and with nothing for rates and latencies.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ven_sim.fleet.histogram import Histogram
from ven_sim.fleet.merge import merge_results
from ven_sim.fleet.timeline import HIST_FILE, TIMELINE_FIELDS, load_timeline, p99_columns
from ven_sim.fleet.timeline_plot import write_run_files

__all__ = ["combine_rows", "load_part", "merge_timelines", "shard_timeline", "write_merged"]

COUNT_COLUMNS = ("connected", "opened", "telemetry_published", "fanout_acked", "restore_acked",
                 "unexpected_disconnects", "reconnects")
SUMMED_COLUMNS = (*COUNT_COLUMNS, "telemetry_per_s", "cpu_cores", "rss_mb")
WORST_COLUMNS = ("t_s", *(column for column in TIMELINE_FIELDS if column.endswith("_p99_ms")),
                 "machine_busy_percent")  # shards on one machine read the same CPUs


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
    for column in COUNT_COLUMNS:
        combined[column] = int(combined[column])
    return combined


def merge_timelines(timelines: list[list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """One row per wall-clock interval that any shard has a row for, in time order."""
    by_interval = [{row["interval_start"]: row for row in rows} for rows in timelines]
    latest: list[dict[str, Any] | None] = [None] * len(timelines)
    merged = []
    for interval in sorted(set().union(*by_interval)):
        current = []  # the shards' rows of this interval
        for shard, rows in enumerate(by_interval):
            if interval in rows:
                latest[shard] = rows[interval]
                current.append(rows[interval])
        combined = combine_rows([row for row in latest if row is not None])
        combined["telemetry_per_s"] = round(sum(
            float(row["telemetry_per_s"] or 0.0) for row in current), 1)
        hists: dict[str, Histogram] = {}
        for row in current:
            for name, data in row.get("histograms", {}).items():
                hists.setdefault(name, Histogram()).merge(Histogram.from_dict(data))
        combined.update(p99_columns(hists), interval_start=interval)
        combined["t_s"] = max(float(row["t_s"]) for row in current)
        merged.append({field: combined[field] for field in TIMELINE_FIELDS})
        merged[-1]["histograms"] = {name: hist.to_dict() for name, hist in hists.items()}
    return merged


def write_merged(out: Path, parts: list[dict[str, Any]], timelines: list[list[dict[str, Any]]],
                 *, target: int, name: str = "fleet.json") -> dict[str, Any]:
    """The fleet's fleet.json (exact histogram merge; or `name`), timeline.csv and
    timeline.png in `out`."""
    merged = merge_results(parts)
    write_run_files(out, merged, merge_timelines(timelines), target=target,
                    title=f"{len(parts)} shards: {target:,} VENs", name=name)
    return merged


def load_part(folder: Path) -> tuple[dict[str, Any], list[dict[str, Any]]] | None:
    """A shard folder's fleet.json and timeline rows, or None if it wrote none."""
    try:
        part = json.loads((folder / "fleet.json").read_text())
    except (OSError, ValueError):
        return None
    return part, load_timeline(folder / "timeline.csv")


def shard_timeline(path: Path) -> list[dict[str, Any]] | None:
    """The timeline of a shard given as its folder or its fleet.json (`ven-sim fleet merge`):
    its rows with each interval's histograms, or None if timeline.csv or the
    timeline_hist.jsonl beside it is missing (without the histograms no exact p99)."""
    if path.is_file() and path.name != "fleet.json":
        return None  # a results file on its own: nothing says which timeline is its
    folder = path if path.is_dir() else path.parent
    if not (folder / "timeline.csv").is_file() or not (folder / HIST_FILE).is_file():
        return None
    return load_timeline(folder / "timeline.csv")
