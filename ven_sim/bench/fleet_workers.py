"""`ven-sim bench fleet-workers`: what `ven-sim fleet --workers K` buys over one process.

It starts mosquitto with mTLS on loopback and the shadow service (as `bench fleet` does),
mints every VEN's certificate once, then runs the same fleet twice, one run after the other
against the same broker: `ven-sim fleet --workers 1` (one process) and `--workers K`, each as
a child process. It prints both runs' figures from their fleet.json and the ratios of the
connect rate achieved and of the fan-out's p99, measured side by side in one invocation.
`skip_single` runs only the K workers (10,000 VENs without an hour-long one-process run).
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path
from typing import Any

from ven_sim.bench.fleet import MOSQUITTO_CONF, fleet_ready, run_fleet_command
from ven_sim.bench.mqtt import _raise_fd_limit
from ven_sim.broker.mosquitto import Mosquitto

__all__ = ["bench_fleet_workers"]

FIGURES = ("vens_connected", "connect_rate_per_s", "all_connected_s", "connect_ms",
           "command_rtt_ms", "fanout", "telemetry_published", "unexpected_disconnects",
           "cpu_seconds", "steady_cpu_cores", "rss_mb", "loop_round_ms", "schedule_lag_ms",
           "duration_s")


def bench_fleet_workers(vens: int, workers: int, duration_s: float, *, ramp: float = 250.0,
                        probe_rate: float = 5.0, skip_single: bool = False,
                        say: Any = None) -> dict[str, Any]:
    say = say or (lambda line: print(line, file=sys.stderr))
    _raise_fd_limit(vens + 512)  # mosquitto inherits it; each worker raises its own
    with (
        tempfile.TemporaryDirectory(prefix="bench-fleet-workers-") as folder,
        Mosquitto(folder, extra_conf=MOSQUITTO_CONF) as mosquitto,
    ):
        runs = {}
        with fleet_ready(mosquitto, vens, say):
            for count in (workers,) if skip_single else (1, workers):
                results = run_fleet_command(
                    mosquitto, Path(folder) / "runs" / f"workers-{count}", vens=vens,
                    workers=count, ramp=ramp, duration_s=duration_s, probe_rate=probe_rate,
                    say=say)
                runs[f"workers_{count}"] = {key: results.get(key) for key in FIGURES}
    figures: dict[str, Any] = {"vens": vens, "workers": workers, "ramp_per_s": ramp, **runs}
    if not skip_single:
        one, many = runs["workers_1"], runs[f"workers_{workers}"]
        figures["connect_rate_ratio"] = _ratio(many["connect_rate_per_s"],
                                               one["connect_rate_per_s"])
        figures["fanout_p99_ratio"] = _ratio(many["fanout"]["ms"]["p99"],
                                             one["fanout"]["ms"]["p99"])
    return figures


def _ratio(a: float | None, b: float | None) -> float | None:
    return None if not a or not b else round(a / b, 2)
