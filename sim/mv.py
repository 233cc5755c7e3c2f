"""Measurement and verification: what each event asked for and what it got.

Computed from recorded telemetry only (never from the controller's own view),
per VEN and summed for the fleet:

* baseline_kw: mean power over the window before the event (no in-event samples);
* delivered_kw: mean of (baseline - actual) over the event, delivered_kwh its energy;
* delivery_ratio: delivered_kw / requested_kw;
* rebound_peak_kw: the highest power above baseline in the hour after the event;
* comfort_violation_minutes: minutes any targeted VEN was out of comfort, event
  plus that hour;
* the truth beside it (`sim.counterfactual`): counterfactual_kw, true_delivered_kw and
  _kwh, true_delivery_ratio, and the VENs' own estimate, ven_estimated_shed_kw.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sim.baseline import delivered, window_mean_kw
from sim.counterfactual import true_delivery
from sim.fleetlog import Row

REBOUND_WINDOW_S = 3600.0


@dataclass(frozen=True)
class EventWindow:
    id: str
    start: float
    end: float
    vens: tuple[str, ...]
    requested_kw: float


def series_by_ven(rows: Iterable[Row]) -> dict[str, list[tuple[float, float, float]]]:
    by_ven: dict[str, list[tuple[float, float, float]]] = defaultdict(list)
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


def evaluate_event(
    event: EventWindow,
    rows: list[Row],
    baseline_window_s: float,
    windows: Sequence[EventWindow] = (),
) -> dict[str, object]:
    """M&V for one event over the VENs it targeted; `windows`: all the run's events."""
    targeted = set(event.vens)
    per_ven = series_by_ven(r for r in rows if r.ven_id in targeted)
    baseline_total = 0.0
    delivered_kw = delivered_kwh = 0.0
    for samples in per_ven.values():
        baseline = window_mean_kw(samples, event.start, baseline_window_s)
        if baseline is None:
            continue
        baseline_total += baseline
        kw, kwh = delivered(samples, baseline, event.start, event.end)
        delivered_kw += kw
        delivered_kwh += kwh
    after = [
        kw
        for t0, t1, kw in fleet_series(rows, targeted)
        if t0 >= event.end - 1e-9 and t1 <= event.end + REBOUND_WINDOW_S + 1e-9
    ]
    rebound = max((kw - baseline_total for kw in after), default=0.0)
    comfort = sum(
        r.comfort_minutes
        for r in rows
        if r.ven_id in targeted and r.t1 > event.start and r.t0 < event.end + REBOUND_WINDOW_S
    )
    ratio = delivered_kw / event.requested_kw if event.requested_kw > 0 else None
    return {
        "id": event.id,
        "start": event.start,
        "end": event.end,
        "vens": len(targeted),
        "requested_kw": round(event.requested_kw, 3),
        "baseline_kw": round(baseline_total, 3),
        "delivered_kw": round(delivered_kw, 3),
        "delivered_kwh": round(delivered_kwh, 3),
        "delivery_ratio": round(ratio, 4) if ratio is not None else None,
        "rebound_peak_kw": round(max(0.0, rebound), 3),
        "comfort_violation_minutes": round(comfort, 1),
        **true_delivery(event, rows, windows or (event,)),
    }
