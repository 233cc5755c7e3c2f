"""The truth about an event: the recorded counterfactual against what the VENs drew.

At an event's start every targeted VEN forks a twin of each circuit (`Circuit.twin`): the same
state and the same random stream, stepped beside the circuit but never curtailed, so it draws
exactly what the circuit would have drawn without the event, earlier events as they happened.
Telemetry carries the VEN's sum as `counterfactual_kw`. A later event targeting the VEN forks
new twins, so an event's counterfactual for a VEN runs from its start to the next event that
VEN takes (its horizon), or to the end of the run.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Protocol

from sim.fleetlog import Row


class Window(Protocol):
    id: str
    start: float
    end: float
    vens: tuple[str, ...]
    requested_kw: float


def horizons(event: Window, windows: Iterable[Window]) -> dict[str, float]:
    """Per targeted VEN, where this event's counterfactual ends (the next event it takes)."""
    ends = dict.fromkeys(event.vens, float("inf"))
    for other in windows:
        if other.id == event.id or other.start <= event.start:
            continue
        for ven in other.vens:
            if ven in ends and other.start < ends[ven]:
                ends[ven] = other.start
    return ends


def overlapped(event: Window, windows: Iterable[Window]) -> bool:
    """True if another event was active for a shared VEN when this one started or before it ended.

    The twins then carry the other event's shed as it stood, or stop early: not exact.
    """
    mine = set(event.vens)
    return any(
        other.id != event.id
        and other.start < event.end
        and other.end > event.start
        and mine.intersection(other.vens)
        for other in windows
    )


def counterfactual_rows(
    event: Window, rows: Iterable[Row], windows: Sequence[Window]
) -> list[Row]:
    """The targeted VENs' rows inside this event's horizon that carry a counterfactual."""
    ends = horizons(event, windows)
    return [
        r
        for r in rows
        if r.ven_id in ends
        and r.counterfactual_kw is not None
        and r.t0 >= event.start - 1e-9
        and r.t1 <= ends[r.ven_id] + 1e-9
    ]


# The event's counterfactual rows (`counterfactual_rows`) when the caller has them already:
# M&V reads them five times per event, and finding them scans every row of the run.
Known = Sequence[Row] | None


def _known(event: Window, rows: Iterable[Row], windows: Sequence[Window], known: Known
           ) -> Sequence[Row]:
    return counterfactual_rows(event, rows, windows) if known is None else known


def true_delivery(
    event: Window, rows: Iterable[Row], windows: Sequence[Window], known: Known = None
) -> dict[str, object]:
    """Counterfactual, true delivery and the VENs' own estimate over the event window."""
    rows = list(rows) if known is None else rows  # read twice only without `known`
    known = _known(event, rows, windows, known)
    truth = [r for r in known if r.t1 <= event.end + 1e-9]
    targeted = set(event.vens)
    in_event = [
        r
        for r in rows
        if r.ven_id in targeted and r.t0 >= event.start - 1e-9 and r.t1 <= event.end + 1e-9
    ]
    hours = (event.end - event.start) / 3600.0
    cf_kwh = sum(r.counterfactual_kw * (r.t1 - r.t0) for r in truth) / 3600.0  # type: ignore
    delivered_kwh = cf_kwh - sum(r.power_kw * (r.t1 - r.t0) for r in truth) / 3600.0
    estimated_kwh = sum(r.shed_kw * (r.t1 - r.t0) for r in in_event) / 3600.0
    ratio = delivered_kwh / hours / event.requested_kw if event.requested_kw > 0 else None
    exact = len(truth) == len(in_event) and not overlapped(event, windows)
    return {
        "counterfactual_kw": round(cf_kwh / hours, 3),
        "true_delivered_kw": round(delivered_kwh / hours, 3),
        "true_delivered_kwh": round(delivered_kwh, 3),
        "true_delivery_ratio": round(ratio, 4) if ratio is not None else None,
        "ven_estimated_shed_kw": round(estimated_kwh / hours, 3),
        "counterfactual_exact": exact,
    }


def comfort(
    event: Window,
    rows: Iterable[Row],
    windows: Sequence[Window],
    window_s: float,
    known: Known = None,
) -> dict[str, float]:
    """Comfort over the event and `window_s` after, beside the counterfactual's.

    A hot afternoon puts homes out of comfort with or without the event; only the difference
    is the event's doing. Three measures: the models' own minutes out of comfort (water heaters
    included), minutes and degree-minutes past setpoint plus tolerance (`sim.comfort`, HVAC
    only), and the water heaters' share of the first, cold-water minutes, apart.
    vens_comfort_affected counts VENs with more degree-minutes than their twins,
    vens_hot_water_affected VENs with more cold-water minutes than their twins.
    """
    own = own_twin = 0.0
    warm = [0.0, 0.0, 0.0, 0.0]
    cold = [0.0, 0.0]
    per_ven: dict[str, float] = defaultdict(float)
    cold_per_ven: dict[str, float] = defaultdict(float)
    for r in _known(event, rows, windows, known):
        if r.t1 > event.end + window_s + 1e-9 or r.counterfactual_warm is None:
            continue
        own += r.comfort_minutes
        own_twin += r.counterfactual_comfort_minutes or 0.0
        for i, value in enumerate((*r.warm, *r.counterfactual_warm)):
            warm[i] += value
        per_ven[r.ven_id] += r.warm[1] - r.counterfactual_warm[1]
        cold[0] += r.cold_water[0]
        cold[1] += r.cold_water[1]
        cold_per_ven[r.ven_id] += r.cold_water[0] - r.cold_water[1]
    return {
        "counterfactual_comfort_minutes": round(own_twin, 1),
        "net_comfort_minutes": round(own - own_twin, 1),
        "warm_minutes": round(warm[0], 1),
        "warm_degree_minutes": round(warm[1], 1),
        "net_warm_minutes": round(warm[0] - warm[2], 1),
        "net_warm_degree_minutes": round(warm[1] - warm[3], 1),
        "vens_comfort_affected": sum(1 for dm in per_ven.values() if dm > 1e-9),
        "hot_water_minutes": round(cold[0], 1),
        "net_hot_water_minutes": round(cold[0] - cold[1], 1),
        "vens_hot_water_affected": sum(1 for m in cold_per_ven.values() if m > 1e-9),
    }


def day_peaks(
    event: Window,
    rows: Iterable[Row],
    windows: Sequence[Window],
    day_s: float = 86400.0,
    known: Known = None,
) -> dict[str, float]:
    """The fleet's highest interval power on the event's day, actual and without the event.

    The day is the 24 h block of the run's clock holding the event's start (the baselines'
    day). Every VEN of the fleet counts: a VEN the event did not target, or an interval before
    the event or past a VEN's horizon, draws in the counterfactual what it drew.
    """
    day0 = event.start - event.start % day_s
    actual: dict[tuple[float, float], float] = {}
    without: dict[tuple[float, float], float] = {}
    rows = list(rows) if known is None else rows  # read twice only without `known`
    truth: dict[float, dict[str, float | None]] = {}  # interval end -> VEN -> counterfactual
    for r in _known(event, rows, windows, known):
        truth.setdefault(r.t1, {})[r.ven_id] = r.counterfactual_kw
    first, last = day0 - 1e-9, day0 + day_s + 1e-9
    # The log comes an interval at a time: an interval's two sums are kept in locals while its
    # rows last, taken up again from the dicts if it comes back (the same additions in order).
    key: tuple[float, float] | None = None
    start = end = math.nan  # no interval yet: NaN equals no time
    power = cf_power = 0.0
    ven_truth: dict[str, float | None] = {}
    for r in rows:
        t0, t1 = r.t0, r.t1
        if not (t0 >= first and t1 <= last):
            continue
        if t0 != start or t1 != end:
            if key is not None:
                actual[key], without[key] = power, cf_power
            start, end, key = t0, t1, (t0, t1)
            power, cf_power = actual.get(key, 0.0), without.get(key, 0.0)
            ven_truth = truth.get(t1, {})
        drawn = r.power_kw
        power += drawn
        cf = ven_truth.get(r.ven_id)
        cf_power += drawn if cf is None else cf
    if key is not None:
        actual[key], without[key] = power, cf_power
    return {
        "event_day_peak_kw": round(max(actual.values(), default=0.0), 3),
        "counterfactual_day_peak_kw": round(max(without.values(), default=0.0), 3),
    }


def rebound(
    event: Window,
    rows: Iterable[Row],
    windows: Sequence[Window],
    window_s: float,
    known: Known = None,
) -> dict[str, float]:
    """Snapback and payback after the event, against the counterfactual (not a baseline).

    snapback_kw: the highest fleet (actual - counterfactual) in an interval of the `window_s`
    after the event; payback_kwh: the net extra energy over that window. A falling evening load
    hides no snapback, and the natural evening ramp is not counted as one.
    """
    extra: dict[tuple[float, float], float] = defaultdict(float)
    for r in _known(event, rows, windows, known):
        if r.t0 >= event.end - 1e-9 and r.t1 <= event.end + window_s + 1e-9:
            extra[(r.t0, r.t1)] += r.power_kw - r.counterfactual_kw  # type: ignore[operator]
    snapback = max(extra.values(), default=0.0)
    payback = sum(kw * (t1 - t0) for (t0, t1), kw in extra.items()) / 3600.0
    return {"snapback_kw": round(max(0.0, snapback), 3), "payback_kwh": round(payback, 3)}
