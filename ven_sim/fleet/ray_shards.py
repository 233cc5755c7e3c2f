"""`--ray ADDRESS|local`: the fleet's shards as Ray actors, on one machine or a cluster.

Ray is an optional extra (`pip install -e .[ray]`), imported only here, inside the calls.
Each actor runs one shard (`run_fleet`, the same code as a process) in a folder of its own
node and hands back its results and timeline rows; this process writes each shard's files
under OUT/shard-i and merges them exactly, as `--workers` does. While they run it asks every
actor for its live row once a second (the actors take that call on a second thread), and a
Ctrl-C asks each to stop, so they still return their results. With --local-ca or per-VEN
--certs-dir, those paths must exist on every node.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ven_sim.fleet.combined import combine_rows, write_merged
from ven_sim.fleet.plan import FleetConfig
from ven_sim.fleet.runner import FleetRunner, progress_line
from ven_sim.fleet.session import WireOptions, run_fleet
from ven_sim.fleet.timeline_plot import shard_title, write_run_files
from ven_sim.fleet.workers import shard_folder, shard_metrics_port
from ven_sim.signals import StopSignals

__all__ = ["LOCAL", "ShardActor", "run_on_ray"]

LOCAL = "local"
LOCAL_CPUS = 2  # `--ray local`: a cluster on this machine
POLL_S = 1.0


class ShardActor:
    """One shard in a Ray actor: `run()` on one thread, `latest_row()` and `stop()` on another."""

    def __init__(self, config: FleetConfig, options: WireOptions,
                 metrics: tuple[str, int | None] = ("127.0.0.1", None)) -> None:
        self.config, self.options = config, options
        self.metrics_host, self.metrics_port = metrics
        self.runner: FleetRunner | None = None
        self.stop_asked = False

    def run(self) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        from ven_sim.fleet.prometheus import MetricsServer

        server = None
        if self.metrics_port is not None:
            server = MetricsServer(self.metrics_port, self.metrics_host)

        def attach(runner: FleetRunner) -> None:
            if server is not None:
                server.attach(runner)
            self.runner = runner
            if self.stop_asked:  # a stop that came before the runner existed
                runner.stop()

        # Scratch only: the results and rows go back to the driver, which writes OUT/shard-i.
        folder = Path(tempfile.mkdtemp(prefix="ven-sim-fleet-"))
        try:
            results = run_fleet(self.config, self.options, folder, say=lambda _line: None,
                                on_runner=attach)
        finally:
            if server is not None:
                server.close()
            shutil.rmtree(folder, ignore_errors=True)
        assert self.runner is not None
        return results, self.runner.rows

    def latest_row(self) -> dict[str, Any] | None:
        return None if self.runner is None else self.runner.latest_row

    def stop(self) -> None:
        self.stop_asked = True
        if self.runner is not None:
            self.runner.stop()


def connect(address: str) -> Any:
    """Start (`local`) or join a Ray cluster; returns the ray module."""
    import ray

    if not ray.is_initialized():
        if address == LOCAL:
            ray.init(num_cpus=LOCAL_CPUS, include_dashboard=False, log_to_driver=False)
        else:
            ray.init(address=address, log_to_driver=False)
    return ray


def run_on_ray(
    address: str,
    configs: list[FleetConfig],
    options: WireOptions,
    out: Path,
    *,
    metrics: tuple[str, int | None] = ("127.0.0.1", None),
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Each config a Ray actor; the shards' files under OUT/shard-i, the merged ones in OUT."""
    ray = connect(address)
    cpus = int(ray.cluster_resources().get("CPU", 0))
    if len(configs) > cpus:
        raise RuntimeError(f"{len(configs)} shards need a CPU each; the Ray cluster has {cpus}")
    remote = ray.remote(num_cpus=1, max_concurrency=2)(ShardActor)
    host, port = metrics  # shard i serves on port + i
    actors = [remote.remote(config, options, (host, shard_metrics_port(port, i)))
              for i, config in enumerate(configs)]
    pending = [actor.run.remote() for actor in actors]
    target = sum(config.vens for config in configs)
    with StopSignals() as signals:
        stopping = False
        while True:
            ready, _ = ray.wait(pending, num_returns=len(pending), timeout=POLL_S)
            if len(ready) == len(pending):
                break
            if signals.requested and not stopping:
                stopping = True
                for actor in actors:
                    actor.stop.remote()
            rows = [row for row in ray.get([a.latest_row.remote() for a in actors]) if row]
            if progress is not None and rows and not stopping:
                progress(progress_line(combine_rows(rows), target) + f"  ray shards {len(rows)}")
    outputs = ray.get(pending)
    for index, ((results, rows), config) in enumerate(zip(outputs, configs, strict=True)):
        write_run_files(shard_folder(out, index), results, rows, target=config.vens,
                        title=shard_title(config))
    return write_merged(out, [r for r, _ in outputs], [rows for _, rows in outputs],
                        target=target)
