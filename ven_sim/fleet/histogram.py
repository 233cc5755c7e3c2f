"""A log-bucketed latency histogram that merges exactly across shards and workers.

Values (milliseconds) fall into buckets whose bounds grow by `GROWTH` (about 2 % apart), so a
percentile read from the buckets is within 2 % of the true value, and two shards' histograms add
bucket by bucket: the merged percentiles are those of all samples together, never an average
of percentiles. The serialised form is {"unit", "growth", "floor_ms", "count", "sum", "min", "max",
"buckets": {index: count}}.
"""

from __future__ import annotations

import math
from typing import Any

__all__ = ["FLOOR_MS", "GROWTH", "Histogram"]

GROWTH = 1.02  # bucket i holds values in (FLOOR_MS * GROWTH**(i-1), FLOOR_MS * GROWTH**i] ms
FLOOR_MS = 0.001  # one microsecond: bucket 0 holds everything up to it
_LOG_GROWTH = math.log(GROWTH)


class Histogram:
    """Counts of values per log bucket, plus the exact count, sum, min and max."""

    def __init__(self) -> None:
        self.buckets: dict[int, int] = {}
        self.count = 0
        self.total = 0.0
        self.min = math.inf
        self.max = -math.inf

    def add(self, value_ms: float) -> None:
        if value_ms <= FLOOR_MS:
            index = 0
        else:
            index = math.ceil(math.log(value_ms / FLOOR_MS) / _LOG_GROWTH)
        self.buckets[index] = self.buckets.get(index, 0) + 1
        self.count += 1
        self.total += value_ms
        self.min = min(self.min, value_ms)
        self.max = max(self.max, value_ms)

    def merge(self, other: Histogram) -> Histogram:
        """Add `other`'s samples to this one (in place) and return self."""
        for index, n in other.buckets.items():
            self.buckets[index] = self.buckets.get(index, 0) + n
        self.count += other.count
        self.total += other.total
        self.min = min(self.min, other.min)
        self.max = max(self.max, other.max)
        return self

    def copy(self) -> Histogram:
        return Histogram().merge(self)

    def since(self, earlier: Histogram) -> Histogram:
        """The samples added after `earlier`, a `copy()` of this histogram taken before.

        Bucket counts, count and sum are exact; min and max are the bounds of the lowest and
        highest bucket used (kept within this histogram's own min and max), so a percentile
        of the difference is as close as any other (2 %).
        """
        delta = Histogram()
        for index, n in self.buckets.items():
            if n != earlier.buckets.get(index, 0):
                delta.buckets[index] = n - earlier.buckets.get(index, 0)
        delta.count = self.count - earlier.count
        delta.total = self.total - earlier.total
        if delta.buckets:
            low, high = min(delta.buckets), max(delta.buckets)
            delta.min = max(self.min, FLOOR_MS * GROWTH ** (low - 1) if low else 0.0)
            delta.max = min(self.max, FLOOR_MS * GROWTH**high)
        return delta

    def percentile(self, q: float) -> float | None:
        """The value at quantile `q` (0..1): the upper bound of its bucket, capped at max."""
        if not self.count:
            return None
        rank = max(1, math.ceil(q * self.count))
        seen = 0
        for index in sorted(self.buckets):
            seen += self.buckets[index]
            if seen >= rank:
                bound = FLOOR_MS * GROWTH**index
                return min(max(bound, self.min), self.max)
        return self.max

    def summary(self, *quantiles: str) -> dict[str, float | None]:
        """{"p50": ..., "max": ...} for names like "p50", "p99.9" or "max", in ms, 2 decimals."""
        out: dict[str, float | None] = {}
        for name in quantiles:
            value = (self.max if self.count else None) if name == "max" else self.percentile(
                float(name[1:]) / 100.0
            )
            out[name] = None if value is None else round(value, 2)
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "unit": "ms",
            "growth": GROWTH,
            "floor_ms": FLOOR_MS,
            "count": self.count,
            "sum": round(self.total, 3),
            "min": self.min if self.count else None,
            "max": self.max if self.count else None,
            "buckets": {str(i): n for i, n in sorted(self.buckets.items())},
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Histogram:
        if data.get("growth") != GROWTH or data.get("floor_ms") != FLOOR_MS:
            raise ValueError("histogram buckets differ from this version's (growth, floor_ms)")
        hist = cls()
        hist.buckets = {int(i): int(n) for i, n in data["buckets"].items()}
        hist.count = int(data["count"])
        hist.total = float(data["sum"])
        if hist.count:
            hist.min, hist.max = float(data["min"]), float(data["max"])
        return hist
