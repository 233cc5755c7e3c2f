"""Baselines: what a VEN would have drawn, estimated from before the event.

The baseline of an event is the time-weighted mean power over the window just
before the event starts. In-event samples are never used, so curtailment
cannot lower its own baseline.
"""

from __future__ import annotations

from collections import deque
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


class RollingBaseline:
    """The window mean of `window_mean_kw`, kept up to date in O(1) per sample.

    Samples arrive in time order; `mean_kw(now)` is the baseline an event
    starting now would get.
    """

    __slots__ = ("window_s", "_samples", "_energy", "_covered")

    def __init__(self, window_s: float) -> None:
        self.window_s = window_s
        self._samples: deque[tuple[float, float, float]] = deque()
        self._energy = 0.0  # kW x s over the kept samples
        self._covered = 0.0  # seconds covered by the kept samples

    def add(self, t0: float, t1: float, kw: float) -> None:
        self._samples.append((t0, t1, kw))
        self._energy += kw * (t1 - t0)
        self._covered += t1 - t0
        lo = t1 - self.window_s
        while self._samples and self._samples[0][1] <= lo:
            s0, s1, skw = self._samples.popleft()
            self._energy -= skw * (s1 - s0)
            self._covered -= s1 - s0

    def mean_kw(self, now: float) -> float | None:
        if not self._samples:
            return None
        # Only the oldest sample can straddle the window's start: trim it.
        lo = now - self.window_s
        s0, s1, skw = self._samples[0]
        cut = max(0.0, lo - s0)
        covered = self._covered - cut
        return (self._energy - skw * cut) / covered if covered > 0 else None
