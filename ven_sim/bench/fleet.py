"""`ven-sim bench fleet`: `ven-sim fleet` against a mosquitto with mTLS on loopback.

It starts mosquitto (its own local CA, a certificate per VEN, TCP_NODELAY as production
brokers set it, a deep queue so the probe never loses a fan-out ack) and the shadow service
as a separate process (its CPU is not the fleet's), runs N full VENs for `duration` seconds
and prints the figures the issue asks for. Then, for comparison, it drives N plain paho
clients with `loop_start()` each, the way Locust's MQTT user does, and counts how many
connected within `STOCK_WAIT_S`.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from ven_sim.bench.mqtt import _raise_fd_limit
from ven_sim.broker.mosquitto import Mosquitto
from ven_sim.fleet.identities import IdRange
from ven_sim.fleet.plan import FleetConfig
from ven_sim.fleet.session import WireOptions, run_fleet
from ven_sim.transports.mqtt import BrokerURL, TlsFiles, make_client

__all__ = ["bench_fleet", "stock_loop_start"]

MOSQUITTO_CONF = ("set_tcp_nodelay true", "max_queued_messages 1000000", "max_inflight_messages 0")
STOCK_WAIT_S = 60.0


def bench_fleet(
    vens: int,
    duration_s: float,
    *,
    ramp: float = 250.0,
    telemetry_interval_s: float = 5.0,
    probe_rate: float = 5.0,
    stock: bool = True,
    say: Any = None,
    tls_version: str | None = None,
) -> dict[str, Any]:
    say = say or (lambda line: print(line, file=sys.stderr))
    # A limit per process: this one holds a socket per VEN, and so does mosquitto, which
    # inherits the limit (2 * vens asked for 20,512 at 10,000 VENs, over a 20,000 hard limit).
    _raise_fd_limit(vens + 512)
    with (
        tempfile.TemporaryDirectory(prefix="bench-fleet-") as folder,
        Mosquitto(folder, extra_conf=MOSQUITTO_CONF) as mosquitto,
    ):
        shadow = _shadow_service(mosquitto)
        try:
            config = FleetConfig(IdRange("bench", 0, vens), vens, 1, ramp, duration_s,
                                 telemetry_interval_s, probe_rate)
            options = WireOptions(mosquitto.url, local_ca=mosquitto.folder / "certs",
                                  tls_version=tls_version)
            results = run_fleet(config, options, Path(folder) / "runs" / "fleet", say=say,
                                progress=_every(10, say))
        finally:
            shadow.terminate()
            shadow.wait(10)
        figures = _figures(results, vens)
        figures["tls_version"] = tls_version or "1.3"
        if stock:
            say(f"stock paho: {vens:,} clients with loop_start() each")
            figures["stock_loop_start"] = stock_loop_start(mosquitto, config.ids.ids())
    return figures


def _figures(results: dict[str, Any], vens: int) -> dict[str, Any]:
    added_mb = results["rss_mb"] - results["rss_mb_before_vens"]
    return {
        "vens": vens,
        "vens_connected": results["vens_connected"],
        "connect_rate_per_s": results["connect_rate_per_s"],
        "all_connected_s": results["all_connected_s"],
        "clients_prepared_s": results["clients_prepared_s"],
        "steady_cpu_cores": results["steady_cpu_cores"],
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
        "fanout_restore_ms": results["fanout"]["restore"]["ms"],
        "fanout_restore_acked": results["fanout"]["restore"]["acked"],
        "command_rtt_ms_by_op": results["command_rtt_ms_by_op"],
        "telemetry_published": results["telemetry_published"],
        "unexpected_disconnects": results["unexpected_disconnects"],
        "disconnects": results["disconnects"],
        "reconnects": results["reconnects"],
        "cpus": os.cpu_count(),
        "duration_s": results["duration_s"],
    }


def _shadow_service(mosquitto: Mosquitto) -> subprocess.Popen[bytes]:
    paths = mosquitto.client_cert("shadow-service")
    command = [sys.executable, "-m", "ven_sim", "shadow-service", "--broker", mosquitto.url,
               "--ca", str(paths.ca), "--cert", str(paths.cert), "--key", str(paths.key)]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _every(n: int, say: Any) -> Any:
    count = 0

    def progress(line: str) -> None:
        nonlocal count
        count += 1
        if count % n == 0:
            say(line)

    return progress


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
