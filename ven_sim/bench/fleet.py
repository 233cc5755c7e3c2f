"""`ven-sim bench fleet`: `ven-sim fleet --workers K` against a mosquitto with mTLS on loopback.

It starts mosquitto (its own local CA, a certificate per VEN, TCP_NODELAY as production
brokers set it, a deep queue so the probe never loses a fan-out ack) and the shadow service
as a separate process (its CPU is not the fleet's), mints every VEN's certificate, runs N
full VENs for `duration` seconds as `ven-sim fleet --workers K` in a child process (K: the
machine's cores by default; one process is GIL-bound near one core, docs/benchmarks.md) and
prints the figures the issue asks for from its merged fleet.json: CPU and RSS summed over the
workers, percentiles from the workers' histograms added bucket by bucket. Then, for
comparison, it drives N plain paho clients with `loop_start()` each, the way Locust's MQTT
user does, and counts how many connected within `STOCK_WAIT_S`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ven_sim.bench.cpu_window import CpuSampler
from ven_sim.bench.machine_speed import python_speed
from ven_sim.bench.mqtt import _raise_fd_limit
from ven_sim.bench.shadow_lag import ShadowReplyProbe
from ven_sim.broker.mosquitto import Mosquitto
from ven_sim.fleet.identities import IdRange, certificate_owners
from ven_sim.fleet.process_stats import process_cpu_seconds, thread_niceness
from ven_sim.fleet.wiring import mint_certificates
from ven_sim.transports.mqtt import BrokerURL, TlsFiles, make_client

__all__ = ["SHADOW_NICENESS", "SHADOW_PRIORITIES", "bench_fleet", "bench_ids",
           "default_workers", "fleet_figures", "fleet_ready", "run_fleet_command",
           "stock_loop_start"]

MOSQUITTO_CONF = ("set_tcp_nodelay true", "max_queued_messages 1000000", "max_inflight_messages 0")
STOCK_WAIT_S = 60.0
SHADOW_PRIORITIES = ("low", "normal")
SHADOW_NICENESS = 10  # how much nicer than the bench the shadow service runs at "low"
ID_PREFIX = "bench"


def default_workers() -> int:
    """One worker process per core: what `bench fleet` runs unless told otherwise."""
    return os.cpu_count() or 1


def bench_fleet(
    vens: int,
    duration_s: float,
    *,
    workers: int | None = None,
    ramp: float = 250.0,
    telemetry_interval_s: float = 5.0,
    probe_rate: float = 5.0,
    stock: bool = True,
    say: Any = None,
    tls_version: str | None = None,
    shadow_priority: str = "low",
    vens_per_cert: int = 1,
    vtn_connections: int = 1,
    probe_acks: str | None = None,
) -> dict[str, Any]:
    say = say or (lambda line: print(line, file=sys.stderr))
    # A limit per process: mosquitto holds a socket per VEN and inherits it; each worker
    # raises its own for its share.
    _raise_fd_limit(vens + 512)
    with (
        tempfile.TemporaryDirectory(prefix="bench-fleet-") as folder,
        Mosquitto(folder, extra_conf=MOSQUITTO_CONF) as mosquitto,
    ):
        figures = fleet_figures(mosquitto, Path(folder) / "runs", vens, duration_s,
                                workers=workers or default_workers(), ramp=ramp,
                                telemetry_interval_s=telemetry_interval_s,
                                probe_rate=probe_rate, tls_version=tls_version,
                                shadow_priority=shadow_priority, say=say,
                                vens_per_cert=vens_per_cert, vtn_connections=vtn_connections,
                                probe_acks=probe_acks)
        if stock:
            say(f"stock paho: {vens:,} clients with loop_start() each")
            figures["stock_loop_start"] = stock_loop_start(mosquitto, bench_ids(vens))
    return figures


def fleet_figures(mosquitto: Mosquitto, runs: Path, vens: int, duration_s: float, *,
                  workers: int, ramp: float = 250.0, telemetry_interval_s: float = 5.0,
                  probe_rate: float = 5.0, tls_version: str | None = None,
                  shadow_priority: str = "low", say: Any = print,
                  vens_per_cert: int = 1, vtn_connections: int = 1,
                  probe_acks: str | None = None) -> dict[str, Any]:
    """Certificates, the shadow service and one `ven-sim fleet --workers K` run on
    `mosquitto`; the bench's figures from its fleet.json, and the shadow service's lag
    (`shadow_reply_ms`, `ShadowReplyProbe`) measured beside it."""
    speed_before = python_speed()  # before the certificates: nothing of the run is up yet
    with (
        fleet_ready(mosquitto, vens, say, shadow_priority, vens_per_cert) as shadow_service,
        ShadowReplyProbe(mosquitto, bench_ids(1)[0]) as shadow_lag,
    ):
        niceness = thread_niceness(shadow_service.pid)
        shared = (mosquitto.pid, shadow_service.pid)
        before = [process_cpu_seconds(pid) if pid else None for pid in shared]
        with CpuSampler() as sampler:  # every process of the run: this one's descendants
            results = run_fleet_command(mosquitto, runs / f"workers-{workers}", vens=vens,
                                        workers=workers, ramp=ramp, duration_s=duration_s,
                                        telemetry_interval_s=telemetry_interval_s,
                                        probe_rate=probe_rate, tls_version=tls_version,
                                        say=say, vens_per_cert=vens_per_cert,
                                        vtn_connections=vtn_connections,
                                        probe_acks=probe_acks)
        after = [process_cpu_seconds(pid) if pid else None for pid in shared]
    figures = _figures(results, vens)
    figures["python_speed"] = {"before": speed_before, "after": python_speed()}
    # On these cores too, over the fleet's run: AWS's broker and shadow service would not be.
    for name, start, end in zip(("mosquitto", "shadow_service"), before, after, strict=True):
        figures[f"{name}_cpu_seconds"] = (round(end - start, 2)
                                          if start is not None and end is not None else None)
    figures["shadow_service_priority"] = shadow_priority
    figures["shadow_service_nice"] = max(niceness, default=None)  # read back from /proc
    figures["shadow_reply_ms"] = shadow_lag.figures(results["fanout"]["restore"]["ms"]["max"])
    window = results.get("fanout_window")
    figures["fanout_window_cpu"] = (sampler.window(window["began_at"], window["last_ack_at"])
                                    if window else None)
    figures["tls_version"] = tls_version or "1.3"
    figures["vens_per_cert"] = vens_per_cert
    return figures


def run_fleet_command(mosquitto: Mosquitto, out: Path, *, vens: int, workers: int,
                      ramp: float, duration_s: float, telemetry_interval_s: float = 5.0,
                      probe_rate: float = 5.0, tls_version: str | None = None,
                      say: Any = print, vens_per_cert: int = 1,
                      vtn_connections: int = 1, probe_acks: str | None = None) -> dict[str, Any]:
    """`ven-sim fleet --workers K` as a child process (certificates already minted); its
    fleet.json, merged over the workers when K > 1."""
    command = [
        sys.executable, "-m", "ven_sim", "fleet", "--workers", str(workers),
        "--vens", str(vens), "--ramp", str(ramp), "--duration", str(duration_s),
        "--telemetry-interval", str(telemetry_interval_s), "--probe-rate", str(probe_rate),
        "--id-prefix", ID_PREFIX, "--broker", mosquitto.url,
        "--local-ca", str(mosquitto.folder / "certs"), "--out", str(out),
        "--vens-per-cert", str(vens_per_cert), "--vtn-connections", str(vtn_connections),
    ]
    if tls_version is not None:
        command += ["--tls-version", tls_version]
    if probe_acks is not None:
        command += ["--probe-acks", probe_acks]
    say(f"--workers {workers}: {vens:,} VENs at {ramp:g}/s for {duration_s:g} s")
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    results: dict[str, Any] = json.loads((out / "fleet.json").read_text())
    return results


def _figures(results: dict[str, Any], vens: int) -> dict[str, Any]:
    added_mb = results["rss_mb"] - results["rss_mb_before_vens"]
    return {
        "vens": vens,
        "workers": results["workers"],
        "vens_connected": results["vens_connected"],
        "connect_rate_per_s": results["connect_rate_per_s"],
        "all_connected_s": results["all_connected_s"],
        "ramp_behind_s": results.get("ramp_behind_s"),
        "ramp_held_s": results.get("ramp_held_s"),
        "clients_prepared_s": results["clients_prepared_s"],
        "steady_cpu_cores": results["steady_cpu_cores"],
        "cpu_seconds": results["cpu_seconds"],
        "rss_mb": results["rss_mb"],
        "rss_kb_per_ven": round(added_mb * 1024 / vens, 1),
        "connect_ms": results["connect_ms"],
        "tcp_ms": results["tcp_ms"],
        "tls_ms": results["tls_ms"],
        "connack_ms": results["connack_ms"],
        "puback_ms": results["puback_ms"],
        "telemetry_latency_ms": results["telemetry_latency_ms"],
        "command_rtt_ms": {k: results["command_rtt_ms"][k] for k in ("p50", "p95", "p99")},
        "steady": results["steady"],
        "fanout_ms": results["fanout"]["ms"],
        "fanout_acked": results["fanout"]["acked"],
        "vtn_connections": results["vtn_connections"],
        "ack_subscriptions": results["ack_subscriptions"],
        "acks_unmatched": results["acks_unmatched"],
        "fanout_stages_ms": results["fanout"].get("stages_ms"),
        "fanout_restore_ms": results["fanout"]["restore"]["ms"],
        "fanout_restore_acked": results["fanout"]["restore"]["acked"],
        "command_rtt_ms_by_op": results["command_rtt_ms_by_op"],
        "telemetry_published": results["telemetry_published"],
        "unexpected_disconnects": results["unexpected_disconnects"],
        "disconnects": results["disconnects"],
        "reconnects": results["reconnects"],
        "cpus": os.cpu_count(),
        "machine_busy_percent_max": results.get("machine_busy_percent_max"),
        "machine_saturated_s": results.get("machine_saturated_s"),
        "loop_round_ms": results.get("loop_round_ms"),
        "schedule_lag_ms": results.get("schedule_lag_ms"),
        "duration_s": results["duration_s"],
    }


def bench_ids(vens: int, vens_per_cert: int = 1) -> list[str]:
    """The bench's client IDs; with `vens_per_cert` > 1 only each group's first, whose
    certificate its group uses."""
    owners = certificate_owners(IdRange(ID_PREFIX, 0, vens), vens_per_cert)
    return list(dict.fromkeys(owners.values()))


@contextmanager
def fleet_ready(mosquitto: Mosquitto, vens: int, say: Any, shadow_priority: str = "low",
                vens_per_cert: int = 1) -> Iterator[subprocess.Popen[bytes]]:
    """Every VEN's certificate minted by `mosquitto`'s CA, and the shadow service running
    (a process of its own, given to the block: its CPU is not the fleet's) until the block
    ends; at `shadow_priority` "low" it runs `SHADOW_NICENESS` steps nicer than the bench."""
    if shadow_priority not in SHADOW_PRIORITIES:
        raise ValueError(f"shadow priority must be one of {', '.join(SHADOW_PRIORITIES)}, "
                         f"not {shadow_priority!r}")
    owners = bench_ids(vens, vens_per_cert)
    mint_certificates(mosquitto.folder / "certs", owners,
                      lambda n: say(f"certificates: {n:,}/{len(owners):,}"))
    paths = mosquitto.client_cert("shadow-service")
    # AWS's shadow service does not run on the load generator's cores: here it yields them
    # to the fleet and mosquitto (which stays at the bench's priority, as the issue asks).
    niceness = SHADOW_NICENESS if shadow_priority == "low" else 0
    command = [sys.executable, "-m", "ven_sim", "shadow-service", "--broker", mosquitto.url,
               "--ca", str(paths.ca), "--cert", str(paths.cert), "--key", str(paths.key),
               "--nice", str(niceness)]
    shadow = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        # Its first line says it is subscribed: requests sent before would go unanswered.
        assert shadow.stdout is not None
        if not shadow.stdout.readline():
            raise RuntimeError(f"the shadow service did not start (exit code {shadow.wait(10)})")
        yield shadow
    finally:
        shadow.terminate()
        shadow.communicate(timeout=10)


def stock_loop_start(mosquitto: Mosquitto, client_ids: list[str]) -> dict[str, Any]:
    """N paho clients, each on its own `loop_start()` thread: how many connect in time."""
    url = BrokerURL.parse(mosquitto.url)
    connected = threading.Semaphore(0)
    clients = []
    began = time.monotonic()
    try:
        for client_id in client_ids:
            tls = TlsFiles.from_paths(mosquitto.client_cert(client_id))
            client = make_client(client_id, url, tls)
            client.on_connect = lambda _c, _u, _f, reason, _p: (
                None if reason.is_failure else connected.release()
            )
            client.connect_async(url.host, url.port, keepalive=60)
            client.loop_start()
            clients.append(client)
            if time.monotonic() - began > STOCK_WAIT_S:
                break
        up = 0
        deadline = began + STOCK_WAIT_S
        while up < len(client_ids):
            if not connected.acquire(timeout=max(0.0, deadline - time.monotonic())):
                break
            up += 1
        return {"connected": up, "of": len(client_ids), "started": len(clients),
                "within_s": STOCK_WAIT_S, "threads": threading.active_count()}
    finally:
        for client in clients:
            client.disconnect()
        for client in clients:
            client.loop_stop()
