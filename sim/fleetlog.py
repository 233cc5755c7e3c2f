"""FleetLog: the telemetry of a run, kept as compact rows for M&V and output files."""

from __future__ import annotations

from collections import defaultdict, deque
from dataclasses import dataclass
from operator import itemgetter
from typing import NamedTuple

from sim.records import Telemetry


class Row(NamedTuple):  # a NamedTuple, not a frozen dataclass: 5x cheaper to build
    """One VEN over one report interval, as M&V and the output files read it."""

    t0: float
    t1: float
    ven_id: str
    power_kw: float
    baseline_kw: float
    shed_kw: float
    requested_kw: float
    event_id: str | None
    comfort_minutes: float
    shed_capability_kw: float
    battery_soc: float | None
    counterfactual_kw: float | None = None  # the VEN without its latest event (its twins)
    counterfactual_comfort_minutes: float | None = None
    warm: tuple[float, float] = (0.0, 0.0)  # minutes, degree-minutes past setpoint (sim.comfort)
    counterfactual_warm: tuple[float, float] | None = None
    cold_water: tuple[float, float] = (0.0, 0.0)  # water heaters' comfort minutes, then twins'


@dataclass(frozen=True, slots=True)
class CircuitRow:
    """One circuit of one VEN over one report interval (kept only when asked for)."""

    t1: float
    ven_id: str
    circuit_id: str
    power_kw: float
    indoor_c: float | None
    tank_c: float | None
    soc: float | None


_BY_TIME_THEN_VEN = itemgetter(1, 2)  # (Row.t1, Row.ven_id), without a Python call per row
CAPABILITY_SAMPLES = 240  # an hour at 15 s reports; more than enough at 5 min


class FleetLog:
    """Telemetry rows in arrival order, and each VEN's recent shed capability."""

    def __init__(self) -> None:
        self.rows: list[Row] = []
        self.circuit_rows: list[CircuitRow] = []  # from Telemetry.loads, when VENs send them
        self.opt_outs: list[tuple[str, str, float]] = []  # (ven, event, minutes in): overrides
        # Each VEN's recent rows, for their shed capability: one instant is noisy (a compressor
        # cycling), so the VTN splits requests by the mean over the last hour. The rows
        # themselves, not a (t1, capability) pair each: no object more per VEN per interval.
        self._recent: dict[str, deque[Row]] = defaultdict(
            lambda: deque(maxlen=CAPABILITY_SAMPLES)
        )

    def add_telemetry(self, telemetry: Telemetry) -> None:
        # One unpacking, not a read per field: one per VEN per interval.
        (ven_id, t0, t1, _, used_kw, baseline_kw, shed_kw, requested_kw, event_id, battery_soc,
         capability_kw, comfort_minutes, _, loads, counterfactual_kw,
         counterfactual_comfort_minutes, warm, counterfactual_warm, cold_water) = telemetry
        for load in loads:
            self.circuit_rows.append(
                CircuitRow(t1, ven_id, load["id"], load["power_kw"],
                           load.get("indoor_c"), load.get("tank_c"),
                           load.get("soc", load.get("car_soc")))
            )
        # Every field in order, straight into the tuple (3x cheaper than Row's own __new__).
        row = tuple.__new__(Row, (
            t0, t1, ven_id, used_kw, baseline_kw, shed_kw, requested_kw, event_id,
            comfort_minutes, capability_kw, battery_soc, counterfactual_kw,
            counterfactual_comfort_minutes, warm, counterfactual_warm, cold_water,
        ))
        self.rows.append(row)
        self._recent[ven_id].append(row)

    def capability_kw(self, ven_id: str, window_s: float = 3600.0) -> float:
        """Mean shed capability the VEN reported over the last `window_s`."""
        rows = self._recent.get(ven_id)
        if not rows:
            return 0.0
        since = rows[-1].t1 - window_s
        recent = [r.shed_capability_kw for r in rows if r.t1 > since]
        return sum(recent) / len(recent)

    def sorted_rows(self) -> list[Row]:
        """Rows by time then VEN id: the order of timeseries.csv, the same every run."""
        return sorted(self.rows, key=_BY_TIME_THEN_VEN)
