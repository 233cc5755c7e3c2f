"""`ven-sim bench mqtt`: many mTLS MQTT clients on one `NetworkLoop`, in one process.

1. connect: N clients (each with its own certificate) plus one subscriber on one loop thread;
   connects/s and the RSS the clients added;
2. burst: M QoS 1 messages published as fast as `publish()` takes them, round-robin over the
   clients, to a topic the subscriber receives: msg/s from the first publish to the last
   delivery (and from the first delivery to the last), latency from `publish()` to the
   subscriber's `on_message` (queueing included);
3. paced: up to 2,000 more messages at a fixed rate well under the burst rate: latency
   without a backlog.

With no broker URL it starts mosquitto (mTLS on 127.0.0.1) like the test fixture does. A given
broker must trust the local CA in `certs` (`ven-sim broker --certs certs/local` does).
"""

from __future__ import annotations

import os
import resource
import struct
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ven_sim.broker.mosquitto import Mosquitto
from ven_sim.certs.local_ca import LocalCA
from ven_sim.transports.mqtt import TlsFiles
from ven_sim.transports.netloop import NetworkLoop
from ven_sim.transports.paho import PahoTransport

TOPIC = "bench/data"
HEADER = struct.Struct("!Qd")  # sequence number, perf_counter() at publish
PACED_MESSAGES = 2000
PACED_RATE = 1000.0  # msg/s
WAIT_S = 300.0


def _rss_bytes() -> tuple[int, str]:
    try:
        import psutil
    except ImportError:  # peak RSS, not current: close enough while memory only grows
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024, "getrusage maxrss"
    return int(psutil.Process().memory_info().rss), "psutil rss"


def _raise_fd_limit(needed: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft >= needed:
        return
    if hard != resource.RLIM_INFINITY and hard < needed:
        raise RuntimeError(f"{needed} file descriptors needed, hard limit is {hard}")
    resource.setrlimit(resource.RLIMIT_NOFILE, (needed, hard))


@contextmanager
def _broker(url: str | None, certs: Path, messages: int) -> Iterator[tuple[str, LocalCA]]:
    if url is not None:
        yield url, LocalCA(certs)
        return
    with tempfile.TemporaryDirectory(prefix="bench-mqtt-") as folder:
        # mosquitto holds at most 1,000 queued QoS 1 messages per subscriber by default.
        extra = [f"max_queued_messages {messages + PACED_MESSAGES}"]
        with Mosquitto(folder, extra_conf=extra) as mosquitto:
            yield mosquitto.url, mosquitto.ca


class _Sink:
    """The subscriber's handler: latency per message, and an event once `expect` arrived."""

    def __init__(self) -> None:
        self.latencies: list[float] = []
        self.first = self.last = 0.0
        self.expect = 0
        self.done = threading.Event()

    def arm(self, expect: int) -> None:
        self.latencies, self.expect = [], expect
        self.done.clear()

    def __call__(self, _topic: str, payload: bytes) -> None:
        now = time.perf_counter()
        _, sent = HEADER.unpack_from(payload)
        if not self.latencies:
            self.first = now
        self.latencies.append(now - sent)
        self.last = now
        if len(self.latencies) >= self.expect:
            self.done.set()


def _percentiles_ms(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"p50_ms": None, "p99_ms": None, "max_ms": None}
    ordered = sorted(values)

    def pick(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000.0, 2)

    return {"p50_ms": pick(0.50), "p99_ms": pick(0.99), "max_ms": pick(1.0)}


def _payload(seq: int, size: int) -> bytes:
    return HEADER.pack(seq, time.perf_counter()) + b"x" * max(0, size - HEADER.size)


def bench_mqtt(
    clients: int,
    messages: int,
    broker: str | None = None,
    *,
    certs: str | Path = "certs/local",
    keepalive: int = 60,
    payload_bytes: int = 200,
) -> dict[str, Any]:
    """Run the three phases and return the figures (the CLI prints them as JSON)."""
    if clients < 1 or messages < 1:
        raise ValueError("clients and messages must be >= 1")
    _raise_fd_limit(clients + 256)
    with _broker(broker, Path(certs), messages) as (url, ca):
        ids = [f"bench-{i:05d}" for i in range(clients)]
        started = time.perf_counter()
        tls = {cid: TlsFiles.from_paths(ca.client_cert(cid)) for cid in [*ids, "bench-sub"]}
        certs_s = time.perf_counter() - started
        loop = NetworkLoop().start()
        transport = PahoTransport(url, tls.__getitem__, keepalive=keepalive, loop=loop)
        try:
            return _run(transport, loop, ids, messages, payload_bytes, url, broker, certs_s)
        finally:
            transport.close()
            loop.stop()


def _run(
    transport: PahoTransport,
    loop: NetworkLoop,
    ids: list[str],
    messages: int,
    payload_bytes: int,
    url: str,
    broker: str | None,
    certs_s: float,
) -> dict[str, Any]:
    sink = _Sink()
    sink.arm(1)
    subscriber = transport.open("bench-sub", sink)
    subscriber.subscribe(TOPIC)
    subscriber.publish(TOPIC, _payload(0, payload_bytes))  # the echo proves the subscription
    if not sink.done.wait(WAIT_S):
        raise RuntimeError(f"subscriber did not come up on {url}: {subscriber.stats.last_error}")

    rss_before, rss_source = _rss_bytes()
    up = threading.Semaphore(0)

    def on_state(connected: bool, _reason: str | None) -> None:
        if connected:
            up.release()

    start = time.perf_counter()
    conns = [transport.open(cid, _ignore, on_state) for cid in ids]
    for conn in conns:
        if not up.acquire(timeout=WAIT_S):
            raise RuntimeError(f"{conn.client_id} did not connect: {conn.stats.last_error}")
    connect_s = time.perf_counter() - start
    rss_after, _ = _rss_bytes()

    sink.arm(messages)
    first = time.perf_counter()
    for seq in range(messages):
        conns[seq % len(conns)].publish(TOPIC, _payload(seq, payload_bytes))
    publish_s = time.perf_counter() - first
    complete = sink.done.wait(WAIT_S)
    received, burst_s, window_s = len(sink.latencies), sink.last - first, sink.last - sink.first
    burst = {"received": received, "complete": complete,
             "publish_calls_per_s": round(messages / publish_s),
             "msgs_per_s": round(received / burst_s) if burst_s > 0 else None,
             "first_delivery_ms": round((sink.first - first) * 1000.0, 1),
             "delivery_window_msgs_per_s": round(received / window_s) if window_s > 0 else None,
             **_percentiles_ms(sink.latencies)}

    paced_n = min(messages, PACED_MESSAGES)
    sink.arm(paced_n)
    begin = time.perf_counter()
    for seq in range(paced_n):
        time.sleep(max(0.0, begin + seq / PACED_RATE - time.perf_counter()))
        conns[seq % len(conns)].publish(TOPIC, _payload(seq, payload_bytes))
    sink.done.wait(WAIT_S)
    paced = {"rate_per_s": PACED_RATE, "messages": paced_n, "received": len(sink.latencies),
             **_percentiles_ms(sink.latencies)}

    return {
        "broker": url if broker else f"{url} (mosquitto started for the bench)",
        "clients": len(ids),
        "messages": messages,
        "payload_bytes": payload_bytes,
        "qos": 1,
        "cpus": os.cpu_count(),
        "threads": threading.active_count(),
        "loop_clients": loop.clients,
        "cert_issue_s": round(certs_s, 2),
        "connect_s": round(connect_s, 2),
        "connects_per_s": round(len(ids) / connect_s, 1),
        "rss_source": rss_source,
        "rss_mb_before_clients": round(rss_before / 2**20, 1),
        "rss_mb_after_clients": round(rss_after / 2**20, 1),
        "rss_kb_per_client": round((rss_after - rss_before) / 1024 / len(ids), 1),
        "burst": burst,
        "paced": paced,
        "dropped": sum(conn.stats.dropped for conn in conns),
    }


def _ignore(_topic: str, _payload: bytes) -> None:
    """The publishing clients subscribe to nothing."""
