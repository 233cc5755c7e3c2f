"""How fast this machine runs Python right now: a reference printed beside a benchmark.

The same fleet on machines of the same kind, or on one machine minutes apart, has taken
half as much CPU again for the same work (docs/benchmarks.md). A figure from another run is
comparable only with this beside it: a fixed pure-Python loop on one core, the best of a few
tries (neighbours on a shared machine only ever slow it down).
"""

from __future__ import annotations

import time

__all__ = ["LOOPS", "python_speed"]

LOOPS = 1_000_000  # about 40 ms on these machines


def python_speed(repeat: int = 5, loops: int = LOOPS) -> float:
    """Millions of iterations a second of a fixed Python loop on one core, the fastest of
    `repeat` tries: higher is a faster machine (or a quieter one)."""
    best = float("inf")
    for _ in range(repeat):
        began = time.perf_counter()
        total = 0
        for i in range(loops):
            total += i
        best = min(best, time.perf_counter() - began)
    return round(loops / best / 1e6, 2)
