"""Writing a run's results: summary.json, timeseries.csv and report.png.

Everything is written into a temporary sibling folder that is renamed into
place at the end, so an interrupted or failed run never leaves a half-written
output folder behind.
"""

from __future__ import annotations

import csv
import errno
import json
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any

from sim.fleetlog import Row
from sim.mv import fleet_series
from sim.world import iso_utc

TIMESERIES_COLUMNS = (
    "time",
    "t_seconds",
    "ven_id",
    "power_kw",
    "baseline_kw",
    "shed_kw",
    "requested_kw",
    "event_id",
    "shed_capability_kw",
    "battery_soc",
    "comfort_minutes",
)


def write_outputs(
    out_dir: Path, summary: dict[str, Any], rows: list[Row], start_epoch: float,
    *, report: bool = True,
) -> Path:
    """Write the three files into `out_dir` (created; must not already hold a run).

    `report=False` leaves out report.png (a second of matplotlib): an interrupted run
    writes its data and ends."""
    out_dir = Path(out_dir)
    if out_dir.exists() and any(out_dir.iterdir()):
        raise FileExistsError(f"{out_dir} already exists and is not empty")
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    clean_stale_staging(out_dir.parent)
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.staging-{os.getpid()}-",
                                    dir=out_dir.parent))
    try:
        write_summary(staging / "summary.json", summary)
        write_timeseries(staging / "timeseries.csv", rows, start_epoch)
        if report:
            write_report(staging / "report.png", summary, rows)
        if out_dir.exists():
            out_dir.rmdir()
        os.replace(staging, out_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return out_dir


_STAGING = re.compile(r"^\..+\.staging-(\d+)-[^.]+$")


def check_writable(out_dir: Path) -> None:
    """Before a run: OSError now if `out_dir` could not be written at the end."""
    parent = Path(out_dir).parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except FileExistsError:  # a file stands where a folder must go
        raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), str(parent)) from None
    os.rmdir(tempfile.mkdtemp(prefix=".write-check-", dir=parent))
    clean_stale_staging(parent)


def clean_stale_staging(parent: Path) -> list[Path]:
    """Remove staging folders left by runs that were killed (their process is gone)."""
    removed = []
    for path in Path(parent).iterdir():
        match = _STAGING.match(path.name)
        if match is None or not path.is_dir() or _alive(int(match.group(1))):
            continue
        shutil.rmtree(path, ignore_errors=True)
        removed.append(path)
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


def write_summary(path: Path, summary: dict[str, Any]) -> None:
    path.write_text(json.dumps(summary, indent=2, sort_keys=False) + "\n")


def write_timeseries(path: Path, rows: list[Row], start_epoch: float) -> None:
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(TIMESERIES_COLUMNS)
        for r in rows:
            writer.writerow(
                (
                    iso_utc(start_epoch + r.t1),
                    f"{r.t1:g}",
                    r.ven_id,
                    f"{r.power_kw:.4f}",
                    f"{r.baseline_kw:.4f}",
                    f"{r.shed_kw:.4f}",
                    f"{r.requested_kw:.4f}",
                    r.event_id or "",
                    f"{r.shed_capability_kw:.4f}",
                    "" if r.battery_soc is None else f"{r.battery_soc:.4f}",
                    f"{r.comfort_minutes:.2f}",
                )
            )


def write_report(path: Path, summary: dict[str, Any], rows: list[Row]) -> None:
    """Fleet power against baseline, event windows shaded."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    series = fleet_series(rows)
    baseline: dict[float, float] = {}
    for r in rows:
        baseline[r.t1] = baseline.get(r.t1, 0.0) + r.baseline_kw
    hours = [t1 / 3600.0 for _, t1, _ in series]
    fig, ax = plt.subplots(figsize=(10, 4.5), dpi=100)
    ax.plot(hours, [kw for _, _, kw in series], label="fleet power", color="tab:blue", lw=1.6)
    ax.plot(
        hours,
        [baseline.get(t1, 0.0) for _, t1, _ in series],
        label="baseline",
        color="tab:gray",
        lw=1.2,
        ls="--",
    )
    for i, event in enumerate(summary.get("events", [])):
        ax.axvspan(
            event["start_s"] / 3600.0, event["end_s"] / 3600.0, color="tab:orange", alpha=0.2
        )
        ratio = event.get("delivery_ratio")
        label = f"{event['id']}: {event['delivered_kw']:.1f}/{event['requested_kw']:.1f} kW"
        if ratio is not None:
            label += f" ({ratio:.0%})"
        # Labels of late events hang left of their window so they stay inside the plot.
        late = event["start_s"] > 0.6 * summary["simulated_seconds"]
        ax.annotate(
            label,
            xy=((event["end_s"] if late else event["start_s"]) / 3600.0, 1.0),
            xycoords=("data", "axes fraction"),
            xytext=(-2 if late else 2, -12 - 11 * (i % 3)),  # staggered: labels never collide
            textcoords="offset points",
            ha="right" if late else "left",
            fontsize=8,
        )
    ax.set_xlabel("hours since scenario start")
    ax.set_ylabel("kW")
    ax.set_title(f"{summary['scenario']}: {summary['vens']} VENs (seed {summary['seed']})")
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
