"""Faults on a real broker: the fault proxy in front of mosquitto (mutual TLS end to end),
and a paced `ven-sim run` whose VENs lose the broker for a window and lose no telemetry."""

from __future__ import annotations

import json
import threading
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from ven_sim.cli import main
from ven_sim.faults import FaultProxy
from ven_sim.transports.endpoints import BrokerURL
from ven_sim.transports.mqtt import TlsFiles
from ven_sim.transports.paho import PahoTransport

from .fault_runs import PACED, PACED_REPORTS
from .helpers import wait_for

WAIT_S = 20.0  # generous: a reconnect waits a jittered backoff of up to a few seconds


@pytest.fixture
def proxy(mosquitto) -> Any:  # type: ignore[no-untyped-def]
    url = BrokerURL.parse(mosquitto.url)
    with_proxy = FaultProxy(url.host, url.port, ["homes", "solar"]).start()
    yield with_proxy
    with_proxy.close()


def through(mosquitto, proxy: FaultProxy, route: str, **kwargs: Any) -> PahoTransport:  # type: ignore[no-untyped-def]
    return PahoTransport(f"mqtts://127.0.0.1:{proxy.port(route)}",
                         TlsFiles.from_paths(mosquitto.client_cert("proxied")),
                         backoff=(0.1, 0.5), **kwargs)


def test_the_proxy_carries_mutual_tls_and_cuts_and_refuses_one_route(mosquitto, proxy) -> None:
    homes, solar = through(mosquitto, proxy, "homes"), through(mosquitto, proxy, "solar")
    try:
        home = homes.open("proxied-home", lambda _t, _p: None)
        sun = solar.open("proxied-solar", lambda _t, _p: None)
        assert wait_for(lambda: home.connected and sun.connected, WAIT_S)  # TLS, piped
        proxy.cut(["homes"])
        assert wait_for(lambda: not home.connected, WAIT_S)
        time.sleep(1.0)  # several reconnect attempts (backoff up to 0.5 s): all refused
        assert not home.connected and sun.connected
        assert proxy.stats.refused >= 1 and proxy.stats.cut >= 1
        proxy.restore(["homes"])
        assert wait_for(lambda: home.connected, WAIT_S)
    finally:
        homes.close()
        solar.close()


def test_a_slow_route_delays_both_ways_and_keeps_order(mosquitto, proxy) -> None:
    got: list[tuple[int, float]] = []
    lock = threading.Lock()

    def keep(_topic: str, payload: bytes) -> None:
        with lock:
            got.append((json.loads(payload), time.monotonic()))

    homes = through(mosquitto, proxy, "homes")
    try:
        conn = homes.open("proxied-echo", keep)
        conn.subscribe("proxy-test/echo")
        assert wait_for(lambda: conn.connected, WAIT_S)
        time.sleep(0.3)  # the SUBACK
        proxy.slow(["homes"], 1, 0.2, 0.1)
        sent = {}
        for n in range(20):
            sent[n] = time.monotonic()
            conn.publish("proxy-test/echo", json.dumps(n).encode())
            time.sleep(0.01)
        assert wait_for(lambda: len(got) == 20, WAIT_S)
        assert [n for n, _ in got] == list(range(20))  # jitter never reorders a link
        # Out to the broker and back in: two crossings of at least 0.2 s each.
        assert all(at - sent[n] >= 0.4 for n, at in got)
        proxy.unslow(["homes"], 1)
    finally:
        homes.close()


def test_closing_the_proxy_lets_a_clean_goodbye_through(mosquitto) -> None:
    """A client that has just closed cleanly has its DISCONNECT in a pipe: closing the proxy
    right after must pass it on, or the broker would publish the client's will."""
    wills: list[bytes] = []
    watcher = PahoTransport(mosquitto.url, TlsFiles.from_paths(mosquitto.client_cert("watch")))
    url = BrokerURL.parse(mosquitto.url)
    try:
        watch = watcher.open("goodbye-watch", lambda _t, payload: wills.append(payload))
        watch.subscribe("proxy-test/will/#")
        assert wait_for(lambda: watch.connected, WAIT_S)
        for n in range(3):
            one = FaultProxy(url.host, url.port, ["homes"]).start()
            homes = through(mosquitto, one, "homes")
            try:
                conn = homes.open(f"goodbye-{n}", lambda _t, _p: None,
                                  will=(f"proxy-test/will/{n}", b"gone"))
                assert wait_for(lambda c=conn: c.connected, WAIT_S)
                one.slow(["homes"], 1, 0.3, 0.0)  # so the DISCONNECT is surely in the pipe
            finally:
                homes.close()  # DISCONNECT written, socket closed: the proxy still carries it
                one.close()
        # A will would follow its client's end at once: the watcher's marker comes after it.
        watch.publish("proxy-test/will/marker", b"marker")
        assert wait_for(lambda: b"marker" in wills, WAIT_S)
        assert wills == [b"marker"]
    finally:
        watcher.close()


# The wire tests' short scenario, paced, with the broker away for 20 minutes after the
# event's command went out.
OUTAGE = PACED + """\
faults:
  - kind: broker_outage
    start: "+70m"
    duration: 20m
"""


def test_a_paced_run_through_an_outage_of_mosquitto_loses_no_telemetry(
        mosquitto, tmp_path: Path) -> None:
    scenario = tmp_path / "outage.yaml"
    scenario.write_text(OUTAGE)
    reports: dict[str, list[int]] = defaultdict(list)
    lock = threading.Lock()

    def keep(_topic: str, payload: bytes) -> None:
        report = json.loads(payload)
        with lock:
            reports[report["venId"]].append(report["timestamp"])

    watcher = PahoTransport(mosquitto.url, TlsFiles.from_paths(mosquitto.client_cert("watch")))
    watcher.open("outage-watch", keep).subscribe("ven/telemetry/+")
    client = mosquitto.client_cert("vens")
    out = tmp_path / "out"
    try:
        result = CliRunner().invoke(main, [
            "run", str(scenario), "--broker", mosquitto.url, "--ca", str(mosquitto.ca_path),
            "--cert", str(client.cert), "--key", str(client.key), "--out", str(out)])
    finally:
        time.sleep(0.5)  # the last reports crossing the broker to the watcher
        watcher.close()
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "summary.json").read_text())
    [fault] = summary["faults"]
    assert fault["kind"] == "broker_outage" and fault["end_s"] == 90 * 60
    # Reconnects back off in wall time: on a busy machine they can land after the day ended
    # (3.25 wall seconds after the cut at speed 1200), dated past it at the run's speed.
    assert fault["reconnected_s"] is not None and fault["reconnected_s"] >= 90 * 60
    assert summary["telemetry_counted_on"] == "broker"
    assert summary["telemetry_lost"] == 0
    assert summary["telemetry_replayed"] >= 4 * 3  # 4 reports in the window, per VEN, late
    assert summary["proxy"]["cut"] >= 4  # every VEN's connection went with the broker
    assert summary["mqtt"]["acks"] == 4 and summary["mqtt"]["errors"] == 0
    # Seen on the broker by a subscriber of its own: every report, per VEN in order.
    grid = PACED_REPORTS  # every 5 min of the run
    assert sorted(reports) == [f"ven-homes-000{i}" for i in (1, 2, 3, 4)]
    for stamps in reports.values():  # QoS 1: a report whose PUBACK the cut took comes twice
        assert list(dict.fromkeys(stamps)) == grid
        assert len(stamps) - len(grid) <= 1


# Two groups: the first loses its connections, the second's are slow, at the same time.
FLATS = "    count: 2\n  - name: flats\n    template: apartment\n    count: 2\n"
DROP_AND_LATENCY = PACED.replace("    count: 4\n", FLATS) + """\
faults:
  - kind: connection_drop
    target: homes
    start: "+70m"
    duration: 20m
  - kind: latency
    target: flats
    start: "+50m"
    duration: 1h
    delay: 30s
    jitter: 30s
"""


def test_a_drop_and_a_latency_on_mosquitto_touch_only_their_groups(
        mosquitto, tmp_path: Path) -> None:
    scenario = tmp_path / "drop.yaml"
    scenario.write_text(DROP_AND_LATENCY)
    client = mosquitto.client_cert("vens")
    out = tmp_path / "out"
    result = CliRunner().invoke(main, [
        "run", str(scenario), "--broker", mosquitto.url, "--ca", str(mosquitto.ca_path),
        "--cert", str(client.cert), "--key", str(client.key), "--out", str(out)])
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "summary.json").read_text())
    latency, drop = summary["faults"]  # in the order they started
    assert drop["target"] == "homes" and drop["vens"] == 2
    assert drop["reconnected_s"] is not None and drop["reconnected_s"] >= 90 * 60
    assert latency["target"] == "flats" and latency["vens"] == 2
    assert latency["delay_s"] == 30.0 and latency["chunks_delayed"] > 0
    assert summary["proxy"]["cut"] == 2  # the homes' connections; the flats' were only slow
    assert summary["telemetry_lost"] == 0 and summary["telemetry_replayed"] >= 2 * 3
    assert summary["mqtt"]["acks"] == 4 and summary["mqtt"]["errors"] == 0
