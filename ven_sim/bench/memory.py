"""`ven-sim bench memory`: where a fleet VEN's Python memory goes.

N full VENs in this one process (one `ven-sim fleet` shard: its ramp, fan-out and steady
telemetry) against the bench's mosquitto with mutual TLS, under `tracemalloc`. At the stop,
before the VENs are stopped, the heap is compared with the one before their clients were
made, grouped two ways, each per VEN: by allocation site (file and line), and by object type
(every object the garbage collector tracks, counted and sized with `sys.getsizeof`). What is
not in either is OpenSSL's and the interpreter's C memory (`ven-sim bench tls-memory`).
Tracing slows the run: its CPU and latency figures are not the fleet's.
"""

from __future__ import annotations

import gc
import sys
import tempfile
import tracemalloc
from collections import Counter
from pathlib import Path
from typing import Any

from ven_sim.bench.fleet import ID_PREFIX, MOSQUITTO_CONF
from ven_sim.broker.mosquitto import Mosquitto
from ven_sim.fleet.identities import IdRange
from ven_sim.fleet.plan import FleetConfig
from ven_sim.fleet.runner import FleetRunner
from ven_sim.fleet.wiring import open_fleet_wire, prepare_clients

__all__ = ["bench_memory"]

RAMP_PER_S = 200.0


def _objects_by_type() -> tuple[Counter[str], Counter[str]]:
    """How many objects of each type the collector tracks, and their bytes."""
    counts: Counter[str] = Counter()
    sizes: Counter[str] = Counter()
    for obj in gc.get_objects():
        kind = type(obj).__qualname__
        counts[kind] += 1
        sizes[kind] += sys.getsizeof(obj)
    return counts, sizes


class _HeapAtStop(FleetRunner):
    """A shard that takes the heap's picture as it stops, its VENs still up."""

    heap: tracemalloc.Snapshot | None = None
    objects: tuple[Counter[str], Counter[str]] = (Counter(), Counter())

    def _shutdown(self) -> None:
        gc.collect()
        gc.unfreeze()  # the run froze its long-lived objects: get_objects() skips those
        self.objects = _objects_by_type()  # first: a snapshot's traces are objects too
        self.heap = tracemalloc.take_snapshot()
        super()._shutdown()


def bench_memory(vens: int, duration_s: float, *, top: int = 40,
                 say: Any = None) -> dict[str, Any]:
    say = say or (lambda line: print(line, file=sys.stderr))
    ids = IdRange(ID_PREFIX, 0, vens)
    config = FleetConfig(ids=ids, fleet_vens=vens, ramp_per_s=RAMP_PER_S, duration_s=duration_s)
    tracemalloc.start(1)
    try:
        with tempfile.TemporaryDirectory(prefix="bench-memory-") as folder, \
                Mosquitto(folder, extra_conf=MOSQUITTO_CONF) as mosquitto:
            wire = open_fleet_wire(mosquitto.url, client_ids=ids.ids(),
                                   local_ca=Path(folder) / "certs")
            try:
                gc.unfreeze()  # objects frozen before (an earlier run's) are counted both times
                gc.collect()
                before = tracemalloc.take_snapshot()
                counts_before, sizes_before = _objects_by_type()  # `before`'s objects among them
                prepare_clients(wire.transport, ids.ids())
                runner = _HeapAtStop(config, wire.transport, progress=say)
                results = runner.run()
            finally:
                wire.close()
    finally:
        tracemalloc.stop()
    assert runner.heap is not None
    sites = runner.heap.compare_to(before, "lineno")
    counts, sizes = runner.objects
    counts.subtract(counts_before)
    sizes.subtract(sizes_before)
    return {
        "vens": vens,
        "vens_connected": results["vens_connected"],
        "traced_kb_per_ven": round(sum(s.size_diff for s in sites) / vens / 1024, 2),
        "sites": [{"site": f"{_short(s.traceback[0].filename)}:{s.traceback[0].lineno}",
                   "bytes_per_ven": round(s.size_diff / vens),
                   "blocks_per_ven": round(s.count_diff / vens, 2)} for s in sites[:top]],
        "types": [{"type": kind, "bytes_per_ven": round(size / vens),
                   "objects_per_ven": round(counts[kind] / vens, 2)}
                  for kind, size in sizes.most_common(top)],
    }


def _short(filename: str) -> str:
    """A file's path from its package on: site-packages/, the standard library or our tree."""
    for marker in ("site-packages/", "/python3.11/", "/lib/python3"):
        if marker in filename:
            return filename.split(marker)[-1]
    parts = Path(filename).parts
    for package in ("actors", "sim", "ven_sim"):
        if package in parts:
            return "/".join(parts[parts.index(package):])
    return filename
