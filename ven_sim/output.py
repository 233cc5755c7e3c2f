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
from datetime import tzinfo
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sim.fleetlog import Row
from sim.world import iso_time
from ven_sim.plot import write_report

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
    "counterfactual_kw",
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
    zone = summary_zone(summary)
    try:
        write_summary(staging / "summary.json", summary)
        write_timeseries(staging / "timeseries.csv", rows, start_epoch, zone)
        if report:
            write_report(staging / "report.png", summary, rows, start_epoch, zone)
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


def summary_zone(summary: dict[str, Any]) -> tzinfo | None:
    """The run's time zone (`timezone` in summary.json, set by a scenario's `timezone:`)."""
    name = summary.get("timezone")
    return None if name is None else ZoneInfo(name)


def write_summary(path: Path, summary: dict[str, Any]) -> None:
    path.write_text(json.dumps(summary, indent=2, sort_keys=False) + "\n")


def write_timeseries(path: Path, rows: list[Row], start_epoch: float,
                     zone: tzinfo | None = None) -> None:
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(TIMESERIES_COLUMNS)
        for r in rows:
            writer.writerow(
                (
                    iso_time(start_epoch + r.t1, zone),
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
                    "" if r.counterfactual_kw is None else f"{r.counterfactual_kw:.4f}",
                )
            )
