"""timeline.png: a fleet run over time, drawn from its timeline.csv (matplotlib, lazy).

Four panels sharing the run's clock: VENs connected against the target, telemetry reports
per second, the p99 latencies the timeline keeps (connect, PUBACK, telemetry end to end,
command round trip, fan-out, network-loop round), and how busy the whole machine was. Same
style as ven_sim.plot's report.png. Every series is read from the CSV alone, so a merged or
an old run's timeline can be drawn again. A row's rate, p99s and busy share are its
interval's, so each is drawn flat across the interval it covers, not as a slope between two
rows' instants; VENs connected is a count at the row's instant.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ven_sim.fleet.results import SATURATED_PERCENT, write_results

if TYPE_CHECKING:
    from ven_sim.fleet.plan import FleetConfig

__all__ = ["LATENCY_COLUMNS", "interval_steps", "read_timeline", "shard_title",
           "write_run_files", "write_timeline_png"]

LATENCY_COLUMNS = {  # timeline.csv column: legend
    "connect_p99_ms": "connect p99",
    "puback_p99_ms": "PUBACK p99",
    "telemetry_latency_p99_ms": "telemetry end to end p99",
    "command_rtt_p99_ms": "command round trip p99",
    "fanout_p99_ms": "fan-out ack p99",
    "loop_round_p99_ms": "network loop round p99",
    "schedule_lag_p99_ms": "VENs' schedule lag p99",
}


def read_timeline(path: Path) -> dict[str, list[float | None]]:
    """Each numeric column of timeline.csv as floats (None where the cell is empty)."""
    with path.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    columns: dict[str, list[float | None]] = {}
    for row in rows:
        for name, text in row.items():
            if name == "interval_start":  # a UTC time: the x axis is t_s
                continue
            columns.setdefault(name, []).append(float(text) if text not in ("", None) else None)
    return columns


def interval_steps(t: list[float | None],
                   values: list[float | None] | None) -> tuple[list[float], list[float]]:
    """(x, y) drawing each row's value across its interval: from the row before's `t_s` (the
    run's start for the first) to its own. An interval without samples is left blank (a NaN
    point, where matplotlib breaks the line), not drawn as zero nor bridged; a column the
    timeline lacks (None) draws nothing."""
    if values is None:
        return [], []
    xs: list[float] = []
    ys: list[float] = []
    start, gap = 0.0, False
    for end, value in zip(t, values, strict=True):
        end = float(end or 0.0)
        if value is None:
            gap = bool(ys)
        else:
            if gap:
                xs.append(start)
                ys.append(math.nan)
                gap = False
            xs += [start, end]
            ys += [value, value]
        start = end
    return xs, ys


def write_timeline_png(csv_path: Path, png_path: Path, *, title: str,
                       target: int) -> dict[str, tuple[list[float], list[float]]]:
    """Draw `csv_path` into `png_path`; returns each plotted line's (x, y) as drawn."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    columns = read_timeline(csv_path)
    t = columns.get("t_s", [])
    fig, (top, middle, bottom, machine) = plt.subplots(
        4, 1, figsize=(10, 10), dpi=100, sharex=True, height_ratios=(3, 3, 3, 2))
    lines = {"connected": top.plot(t, columns.get("connected", []), color="tab:blue", lw=1.4,
                                   label="connected")[0]}
    top.axhline(target, color="tab:gray", ls="--", lw=1.0, label=f"target {target:,}")
    top.set_ylabel("VENs")
    top.set_title(title)
    lines["telemetry_per_s"] = middle.plot(
        *interval_steps(t, columns.get("telemetry_per_s")),
        color="tab:green", lw=1.2, label="telemetry/s")[0]
    middle.set_ylabel("reports/s")
    for column, label in LATENCY_COLUMNS.items():
        xs, ys = interval_steps(t, columns.get(column))
        if xs:  # a latency without samples yet has empty cells
            lines[column] = bottom.plot(xs, ys, lw=1.2, label=label)[0]
    if len(lines) > 2:
        bottom.set_yscale("log")  # connect ms and round trips of ms can differ a thousandfold
    bottom.set_ylabel("ms")
    # Read the latencies with this beside them: over the line, they include this machine's
    # own queueing (docs/fleet.md, "Reading the results").
    xs, ys = interval_steps(t, columns.get("machine_busy_percent"))
    if xs:  # /proc/stat only: empty elsewhere, and in timelines from before the column
        lines["machine_busy_percent"] = machine.plot(xs, ys, color="tab:red", lw=1.2,
                                                     label="machine busy")[0]
    machine.axhline(SATURATED_PERCENT, color="tab:gray", ls="--", lw=1.0,
                    label=f"saturated ({SATURATED_PERCENT:.0f} %)")
    machine.set_ylim(0, 105)
    machine.set_ylabel("% of all CPUs")
    machine.set_xlabel("seconds since the run began")
    for ax in (top, middle, bottom, machine):
        ax.grid(alpha=0.3)
        ax.legend(loc="best", fontsize=8)  # not over a spike (a ramp, a fan-out)
    fig.tight_layout()
    fig.savefig(png_path)
    plt.close(fig)
    return {name: ([float(x) for x in line.get_xdata()], [float(y) for y in line.get_ydata()])
            for name, line in lines.items()}


def write_run_files(out: Path, results: dict[str, Any], rows: list[dict[str, Any]], *,
                    title: str, target: int, name: str = "fleet.json") -> None:
    """fleet.json (or `name`), timeline.csv and timeline.png of a shard or a merged fleet
    into `out`."""
    write_results(out, results, rows, name=name)
    write_timeline_png(out / "timeline.csv", out / "timeline.png", title=title, target=target)


def shard_title(config: FleetConfig) -> str:
    return f"{config.ids.describe()}: {config.vens:,} VENs"
