"""Baselines: what a VEN would have drawn, estimated from before the event.

The baseline of an event is the time-weighted mean power over the window just
before the event starts. In-event samples are never used, so curtailment
cannot lower its own baseline.
"""

from __future__ import annotations

from collections.abc import Iterable


def window_mean_kw(
    samples: Iterable[tuple[float, float, float]], start: float, window_s: float
) -> float | None:
    """Mean of (t0, t1, kW) samples over [start - window_s, start); None if none overlap."""
    lo = start - window_s
    energy = 0.0
    covered = 0.0
    for t0, t1, kw in samples:
        overlap = min(t1, start) - max(t0, lo)
        if overlap > 0:
            energy += kw * overlap
            covered += overlap
    return energy / covered if covered > 0 else None


def delivered(
    samples: Iterable[tuple[float, float, float]], baseline_kw: float, start: float, end: float
) -> tuple[float, float]:
    """Mean kW and kWh delivered over [start, end): baseline minus actual."""
    reduction_kwh = 0.0
    covered = 0.0
    for t0, t1, kw in samples:
        overlap = min(t1, end) - max(t0, start)
        if overlap > 0:
            reduction_kwh += (baseline_kw - kw) * overlap / 3600.0
            covered += overlap
    mean_kw = reduction_kwh * 3600.0 / covered if covered > 0 else 0.0
    return mean_kw, reduction_kwh

