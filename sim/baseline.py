"""Settlement baselines: what a VEN would have drawn, estimated from its meter alone.

Each method works on one VEN's samples, (t0, t1, kW) intervals in time order, and never lets
an event interval in: `excluded` lists the windows of the VEN's events (all of them, this one
included), and a prior day with any event is not a like day. docs/mv.md gives each method's
source and how it compares with the exact counterfactual (`sim.counterfactual`).

* pre_window: the mean over the last `window_s` of event-free time before the start (it
  reaches back past an earlier event rather than into it);
* caiso_10in10: the mean of the 10 most recent like days over the event's hours, times a
  day-of adjustment (event day over like days in the hours before the event), capped;
* pjm_hi4of5: of the 5 most recent like days, the 4 with the highest use over the event's
  hours, plus a symmetric additive adjustment (event day minus those days before the event).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime

Sample = tuple[float, float, float]  # (t0, t1, kW)
DAY_S = 86400.0


@dataclass(frozen=True)
class DayOfAdjustment:
    """The event-day window that adjusts a prior-day baseline: `hours` ending `gap_h` early."""

    hours: float = 3.0
    gap_h: float = 1.0

    def window(self, start: float) -> tuple[float, float]:
        hi = start - self.gap_h * 3600.0
        return hi - self.hours * 3600.0, hi


def window_mean_kw(samples: Iterable[Sample], lo: float, hi: float) -> float | None:
    """Time-weighted mean over [lo, hi); None if no sample overlaps it."""
    energy = covered = 0.0
    for t0, t1, kw in samples:
        overlap = min(t1, hi) - max(t0, lo)
        if overlap > 0:
            energy += kw * overlap
            covered += overlap
    return energy / covered if covered > 0 else None


def _inside(t0: float, t1: float, windows: Iterable[tuple[float, float]]) -> bool:
    return any(t0 < end and t1 > start for start, end in windows)


def pre_window(
    samples: Sequence[Sample],
    start: float,
    window_s: float,
    excluded: Sequence[tuple[float, float]] = (),
) -> float | None:
    """Mean over the last `window_s` of event-free time before `start`."""
    need = window_s
    energy = covered = 0.0
    for t0, t1, kw in reversed(samples):
        if t0 >= start or _inside(t0, t1, excluded):
            continue
        take = min(min(t1, start) - t0, need)  # the part nearest the start
        energy += kw * take
        covered += take
        need -= take
        if need <= 1e-9:
            break
    return energy / covered if covered > 0 else None


def like_days(
    start: float,
    start_epoch: float,
    first_t: float,
    excluded: Sequence[tuple[float, float]],
    holidays: frozenset[date] = frozenset(),
) -> list[int]:
    """Days back (1, 2, ...) of the event day's type (weekday, or weekend and holiday) that
    have no event and lie wholly in the data (which starts at `first_t`), most recent first."""
    day0 = start - start % DAY_S  # midnight of the event day, in run seconds

    def kind(t: float) -> bool:
        d = datetime.fromtimestamp(start_epoch + t, UTC).date()
        return d.weekday() < 5 and d not in holidays

    wanted = kind(start)
    days = []
    k = 1
    while day0 - k * DAY_S >= first_t - 1e-9:
        lo = day0 - k * DAY_S
        if kind(lo) == wanted and not _inside(lo, lo + DAY_S, excluded):
            days.append(k)
        k += 1
    return days


def _mean(values: list[float]) -> float:
    return sum(values) / len(values)


def _day_means(
    samples: Sequence[Sample], lo: float, hi: float, days: Iterable[int]
) -> list[tuple[int, float]]:
    out = []
    for k in days:
        kw = window_mean_kw(samples, lo - k * DAY_S, hi - k * DAY_S)
        if kw is not None:
            out.append((k, kw))
    return out


def caiso_10in10(
    samples: Sequence[Sample],
    start: float,
    end: float,
    days: Sequence[int],
    *,
    count: int = 10,
    cap: float = 0.2,
    adjustment: DayOfAdjustment = DayOfAdjustment(),
) -> float | None:
    """The `count` most recent like days' mean over the event, times the capped day-of ratio."""
    chosen = _day_means(samples, start, end, days[:count])
    if not chosen:
        return None
    base = _mean([kw for _, kw in chosen])
    lo, hi = adjustment.window(start)
    today = window_mean_kw(samples, lo, hi)
    before = _day_means(samples, lo, hi, [k for k, _ in chosen])
    typical = _mean([kw for _, kw in before]) if before else None
    if today is None or not typical or typical <= 0:
        return base
    ratio = min(max(today / typical, 1.0 - cap), 1.0 + cap)
    return base * ratio


def pjm_hi4of5(
    samples: Sequence[Sample],
    start: float,
    end: float,
    days: Sequence[int],
    *,
    pool: int = 5,
    keep: int = 4,
    adjustment: DayOfAdjustment = DayOfAdjustment(),
) -> float | None:
    """The `keep` highest of the `pool` most recent like days, plus the additive adjustment."""
    candidates = _day_means(samples, start, end, days[:pool])
    if len(candidates) < keep:
        return None
    chosen = sorted(candidates, key=lambda day: (-day[1], day[0]))[:keep]
    base = _mean([kw for _, kw in chosen])
    lo, hi = adjustment.window(start)
    today = window_mean_kw(samples, lo, hi)
    before = _day_means(samples, lo, hi, [k for k, _ in chosen])
    if today is None or not before:
        return base
    return base + today - _mean([kw for _, kw in before])


def within(samples: Iterable[Sample], start: float, end: float) -> list[Sample]:
    """The samples with a part in [start, end), in order: the only ones `delivered` counts."""
    return [s for s in samples if min(s[1], end) - max(s[0], start) > 0]


def delivered(
    samples: Iterable[Sample], baseline_kw: float, start: float, end: float
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
