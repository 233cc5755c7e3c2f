"""`ven-sim bench fleet-workers`: what `ven-sim fleet --workers K` buys over one process.

It starts mosquitto with mTLS on loopback and the shadow service (as `bench fleet` does),
mints every VEN's certificate once, then runs the same fleet twice, one run after the other
against the same broker: `ven-sim fleet --workers 1` (one process) and `--workers K`, each as
a child process. It prints both runs' figures from their fleet.json and the ratios of the
connect rate achieved and of the fan-out's p99, measured side by side in one invocation.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from ven_sim.bench.fleet import MOSQUITTO_CONF, _shadow_service
from ven_sim.bench.mqtt import _raise_fd_limit
from ven_sim.broker.mosquitto import Mosquitto
from ven_sim.fleet.wiring import mint_certificates

__all__ = ["bench_fleet_workers"]

ID_PREFIX = "bench"
FIGURES = ("vens_connected", "connect_rate_per_s", "all_connected_s", "connect_ms",
           "command_rtt_ms", "fanout", "telemetry_published", "unexpected_disconnects",
           "cpu_seconds", "steady_cpu_cores", "rss_mb", "duration_s")


def bench_fleet_workers(vens: int, workers: int, duration_s: float, *, ramp: float = 250.0,
                        probe_rate: float = 5.0, say: Any = None) -> dict[str, Any]:
    say = say or (lambda line: print(line, file=sys.stderr))
    _raise_fd_limit(2 * vens + 512)  # mosquitto inherits it; each worker raises its own
    with (
        tempfile.TemporaryDirectory(prefix="bench-fleet-workers-") as folder,
        Mosquitto(folder, extra_conf=MOSQUITTO_CONF) as mosquitto,
    ):
        certs = mosquitto.folder / "certs"
        ids = [f"{ID_PREFIX}-{i:06d}" for i in range(vens)]
        mint_certificates(certs, ids, lambda n: say(f"certificates: {n:,}/{vens:,}"))
        shadow = _shadow_service(mosquitto)
        runs = {}
        try:
            for count in (1, workers):
                out = Path(folder) / "runs" / f"workers-{count}"
                command = [
                    sys.executable, "-m", "ven_sim", "fleet", "--workers", str(count),
                    "--vens", str(vens), "--ramp", str(ramp), "--duration", str(duration_s),
                    "--probe-rate", str(probe_rate), "--id-prefix", ID_PREFIX,
                    "--broker", mosquitto.url, "--local-ca", str(certs), "--out", str(out),
                ]
                say(f"--workers {count}: {vens:,} VENs at {ramp:g}/s for {duration_s:g} s")
                subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
                results = json.loads((out / "fleet.json").read_text())
                runs[f"workers_{count}"] = {key: results.get(key) for key in FIGURES}
        finally:
            shadow.terminate()
            shadow.wait(10)
    one, many = runs["workers_1"], runs[f"workers_{workers}"]
    return {
        "vens": vens, "workers": workers, "ramp_per_s": ramp, **runs,
        "connect_rate_ratio": _ratio(many["connect_rate_per_s"], one["connect_rate_per_s"]),
        "fanout_p99_ratio": _ratio(many["fanout"]["ms"]["p99"], one["fanout"]["ms"]["p99"]),
    }


def _ratio(a: float | None, b: float | None) -> float | None:
    return None if not a or not b else round(a / b, 2)
