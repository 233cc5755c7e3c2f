"""Measurement and verification: what each event asked for and what it got.

Computed from recorded telemetry only (never from the controller's own view),
per VEN and summed for the fleet:

* baselines: every method of `sim.baseline` side by side, plus the exact counterfactual,
  each with baseline_kw, delivered_kw (mean of baseline - actual over the event),
  delivery_ratio and error_kw (baseline minus the counterfactual: what settling by it
  gets wrong);
* baseline_kw, delivered_kw, delivered_kwh, delivery_ratio: the settlement method's
  (the scenario's `mv.settlement`, `pre_window` by default);
* the truth beside it (`sim.counterfactual`): counterfactual_kw, true_delivered_kw and
  _kwh, true_delivery_ratio, and the VENs' own estimate, ven_estimated_shed_kw;
* rebound_peak_kw: snapback, the highest fleet (actual - counterfactual) in an interval of
  the hour after the event, and payback_kwh, the net extra energy over that hour;
* comfort_violation_minutes: minutes any targeted VEN was out of comfort, event
  plus that hour; counterfactual_comfort_minutes the same for the twins, net_comfort_minutes
  the difference (the event's doing) and vens_comfort_affected the VENs it made worse;
  hot_water_minutes, the water heaters' share of those minutes (cold water), apart, net of the
  twins and with the VENs it made worse;
* event_day_peak_kw and counterfactual_day_peak_kw: the whole fleet's highest interval power
  on the event's day, with and without the event (did it lower the day's peak or move it?).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date

from sim.baseline import (
    Sample,
    caiso_10in10,
    delivered,
    like_days,
    pjm_hi4of5,
    pre_window,
    within,
)
from sim.counterfactual import comfort, counterfactual_rows, day_peaks, rebound, true_delivery
from sim.fleetlog import Row

REBOUND_WINDOW_S = 3600.0
Gap = tuple[str, float, float]  # (VEN id, from, to): a VEN down, with no telemetry
METHODS = ("pre_window", "caiso_10in10", "pjm_hi4of5", "control_group", "counterfactual")


@dataclass(frozen=True)
class EventWindow:
    id: str
    start: float
    end: float
    vens: tuple[str, ...]
    requested_kw: float
    control: tuple[str, ...] = ()  # the control group's VENs in the targeted group: not sent it


@dataclass(frozen=True)
class Settlement:
    """How events are settled, and what prior-day methods need to know of the calendar."""

    method: str = "pre_window"
    window_s: float = 7200.0  # pre_window's length
    start_epoch: float = 0.0  # unix seconds of run second 0
    first_t: float = 0.0  # where the recorded data starts (with warm-up days, before 0)
    holidays: frozenset[date] = frozenset()
    caiso_cap: float = 0.2


def series_by_ven(rows: Iterable[Row]) -> dict[str, list[Sample]]:
    by_ven: dict[str, list[Sample]] = defaultdict(list)
    for r in rows:
        by_ven[r.ven_id].append((r.t0, r.t1, r.power_kw))
    return by_ven


def fleet_series(
    rows: Iterable[Row], vens: set[str] | None = None
) -> list[tuple[float, float, float]]:
    """Fleet power per interval: (t0, t1, summed kW) in time order."""
    sums: dict[tuple[float, float], float] = defaultdict(float)
    for r in rows:
        if vens is None or r.ven_id in vens:
            sums[(r.t0, r.t1)] += r.power_kw
    return [(t0, t1, kw) for (t0, t1), kw in sorted(sums.items())]


def fleet_totals(rows: list[Row]) -> dict[str, float]:
    series = fleet_series(rows)
    peak = max((kw for _, _, kw in series), default=0.0)
    energy = sum(kw * (t1 - t0) / 3600.0 for t0, t1, kw in series)
    return {"peak_kw": round(peak, 3), "energy_kwh": round(energy, 3)}


def ven_baselines(
    event: EventWindow,
    samples: Sequence[Sample],
    excluded: Sequence[tuple[float, float]],
    settlement: Settlement,
) -> dict[str, float | None]:
    """One VEN's baseline by each meter-only method."""
    days = like_days(
        event.start, settlement.start_epoch, settlement.first_t, excluded, settlement.holidays
    )
    return {
        "pre_window": pre_window(samples, event.start, settlement.window_s, excluded),
        "caiso_10in10": caiso_10in10(
            samples, event.start, event.end, days, cap=settlement.caiso_cap
        ),
        "pjm_hi4of5": pjm_hi4of5(samples, event.start, event.end, days),
    }


def control_mean_kw(event: EventWindow, rows: Iterable[Row]) -> float | None:
    """The control group's mean power per VEN over the event: each dispatched VEN's baseline.

    The control VENs are drawn at random and never dispatched, so, on average, they draw what
    the dispatched ones would have; with few of them the figure is noisy, and error_kw shows it.
    """
    control = set(event.control)
    if not control:
        return None
    energy = sum(
        r.power_kw * (r.t1 - r.t0)
        for r in rows
        if r.ven_id in control and r.t0 >= event.start - 1e-9 and r.t1 <= event.end + 1e-9
    )
    return energy / (event.end - event.start) / len(control)


def evaluate_event(
    event: EventWindow,
    rows: list[Row],
    settlement: Settlement | None = None,
    windows: Sequence[EventWindow] = (),
    gaps: Sequence[Gap] = (),
) -> dict[str, object]:
    """M&V for one event over the VENs it targeted; `windows`: all the run's events.

    `gaps` are (VEN, from, to) spans a VEN was down (a ven_crash) and reported nothing. The
    settlement fills them at the VEN's baseline: no metered data, no credit, and the event's
    mean delivered kW is over the whole event, not only the intervals that were reported.
    """
    settlement = settlement or Settlement()
    windows = windows or (event,)
    targeted = set(event.vens)
    per_ven = series_by_ven([r for r in rows if r.ven_id in targeted])
    known = counterfactual_rows(event, rows, windows)  # found once, read by every measure
    truth = true_delivery(event, rows, windows, known)
    filled = _filled(event, gaps)
    methods = _methods(event, rows, per_ven, known, windows, settlement,
                       truth["counterfactual_kw"], filled)
    settled = methods.get(settlement.method) or {}
    minutes = sum(
        r.comfort_minutes
        for r in rows
        if r.ven_id in targeted and r.t1 > event.start and r.t0 < event.end + REBOUND_WINDOW_S
    )
    figures = rebound(event, rows, windows, REBOUND_WINDOW_S, known)
    return {
        "id": event.id,
        "start": event.start,
        "end": event.end,
        "vens": len(targeted),
        "requested_kw": round(event.requested_kw, 3),
        "settlement": settlement.method,
        "baseline_kw": settled.get("baseline_kw"),
        "delivered_kw": settled.get("delivered_kw"),
        "delivered_kwh": settled.get("delivered_kwh"),
        "delivery_ratio": settled.get("delivery_ratio"),
        "rebound_peak_kw": figures["snapback_kw"],
        "payback_kwh": figures["payback_kwh"],
        **day_peaks(event, rows, windows, known=known),
        "comfort_violation_minutes": round(minutes, 1),
        **comfort(event, rows, windows, REBOUND_WINDOW_S, known),
        **truth,
        "baselines": methods,
        **({"gap_filled_ven_hours": round(sum(b - a for spans in filled.values()
                                              for a, b in spans) / 3600.0, 3)}
           if filled else {}),
    }


def _filled(event: EventWindow, gaps: Sequence[Gap]) -> dict[str, list[tuple[float, float]]]:
    """Per targeted VEN, the parts of the event it was down for."""
    out: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for ven, begin, end in gaps:
        if ven in event.vens and begin < event.end and end > event.start:
            out[ven].append((max(begin, event.start), min(end, event.end)))
    return dict(out)


def _methods(
    event: EventWindow,
    rows: list[Row],
    per_ven: dict[str, list[Sample]],
    known: Sequence[Row],
    windows: Sequence[EventWindow],
    settlement: Settlement,
    counterfactual_kw: object,
    filled: dict[str, list[tuple[float, float]]],
) -> dict[str, dict[str, float | None]]:
    hours = (event.end - event.start) / 3600.0
    cf_by_ven: dict[str, float] = defaultdict(float)
    for r in known:
        if r.t1 <= event.end + 1e-9:
            cf_by_ven[r.ven_id] += r.counterfactual_kw * (r.t1 - r.t0) / 3600.0 / hours  # type: ignore
    totals: dict[str, list[float] | None] = {m: [0.0, 0.0, 0.0] for m in METHODS}
    control_kw = control_mean_kw(event, rows)
    for ven, samples in per_ven.items():
        excluded = [(w.start, w.end) for w in windows if ven in w.vens]
        found = ven_baselines(event, samples, excluded, settlement)
        found["control_group"] = control_kw
        found["counterfactual"] = cf_by_ven.get(ven)
        # Only the intervals inside the event count for delivery: found once, not per method.
        inside = within(samples, event.start, event.end)
        for method, baseline in found.items():
            total = totals[method]
            if total is None:
                continue
            if baseline is None:  # one VEN short of history: the fleet figure is unknown
                totals[method] = None
                continue
            estimated = [(a, b, baseline) for a, b in filled.get(ven, ())]  # no credit
            kw, kwh = delivered([*inside, *estimated], baseline, event.start, event.end)
            total[0] += baseline
            total[1] += kw
            total[2] += kwh
    out: dict[str, dict[str, float | None]] = {}
    for method, total in totals.items():
        if total is None or not per_ven:
            out[method] = dict.fromkeys(
                ("baseline_kw", "delivered_kw", "delivered_kwh", "delivery_ratio", "error_kw")
            )
            continue
        baseline, kw, kwh = total
        ratio = kw / event.requested_kw if event.requested_kw > 0 else None
        error = baseline - counterfactual_kw if isinstance(counterfactual_kw, float) else None
        out[method] = {
            "baseline_kw": round(baseline, 3),
            "delivered_kw": round(kw, 3),
            "delivered_kwh": round(kwh, 3),
            "delivery_ratio": round(ratio, 4) if ratio is not None else None,
            "error_kw": round(error, 3) + 0.0 if error is not None else None,
        }
    return out
