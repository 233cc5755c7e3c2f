"""circuits.csv (`ven-sim run --circuits`): a row per VEN per circuit per report interval.

Each row is that circuit's mean power over the interval (the rows of one VEN and interval
add up to its `power_kw` in timeseries.csv) and its state at the interval's end: indoor
temperature for HVAC, tank temperature for water heaters, state of charge (0..1) for
batteries and for the car on an EV charger (blank while no car is plugged in).
"""

from __future__ import annotations

import csv
import os
from datetime import tzinfo
from pathlib import Path

from sim.fleetlog import CircuitRow
from sim.world import iso_time

__all__ = ["CIRCUIT_COLUMNS", "write_circuits"]

CIRCUIT_COLUMNS = (
    "time", "t_seconds", "ven_id", "circuit_id", "type", "power_kw", "indoor_c", "tank_c", "soc",
)


def write_circuits(path: Path, rows: list[CircuitRow], types: dict[tuple[str, str], str],
                   start_epoch: float, zone: tzinfo | None = None) -> Path:
    """Write `rows` (types by (ven_id, circuit_id)) to `path`, whole or not at all."""
    path = Path(path)
    partial = path.with_name(f".{path.name}.partial")
    ordered = sorted(rows, key=lambda r: (r.t1, r.ven_id))  # stable: circuits keep panel order
    try:
        with partial.open("w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(CIRCUIT_COLUMNS)
            for r in ordered:
                writer.writerow((
                    iso_time(start_epoch + r.t1, zone), f"{r.t1:g}", r.ven_id, r.circuit_id,
                    types.get((r.ven_id, r.circuit_id), ""), f"{r.power_kw:.4f}",
                    _number(r.indoor_c, 3), _number(r.tank_c, 3), _number(r.soc, 4),
                ))
        os.replace(partial, path)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return path


def _number(value: float | None, digits: int) -> str:
    return "" if value is None else f"{value:.{digits}f}"
