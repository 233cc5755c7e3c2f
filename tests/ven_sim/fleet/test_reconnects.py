"""Reconnects counted apart from disconnects: VENs knocked off by the broker come back.

A second client connecting with a VEN's ID and certificate makes mosquitto close the VEN's
connection (a takeover, rc=7), exactly once per intruder: the intruder never reconnects. The
VEN's transport reconnects on its own, so the ground truth is one disconnect by reason
`takeover_rc7` and one reconnect per intruder, in fleet.json, the timeline and Prometheus.
"""

from __future__ import annotations

import ssl
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest

from tests.ven_sim.fleet.test_prometheus import scrape
from ven_sim.broker.mosquitto import Mosquitto
from ven_sim.fleet.identities import IdRange
from ven_sim.fleet.plan import FleetConfig
from ven_sim.fleet.prometheus import MetricsServer
from ven_sim.fleet.runner import FleetRunner
from ven_sim.fleet.session import WireOptions, run_fleet
from ven_sim.fleet.timeline import load_timeline

VENS = 20
DROPPED = ("ven-drop-000003", "ven-drop-000011", "ven-drop-000017")
TIMEOUT_S = 30.0


def take_over(broker: Mosquitto, client_id: str) -> None:
    """Connect as `client_id` until the CONNACK, then leave; paho's own loop, no retries."""
    files = broker.client_cert(client_id)
    intruder = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id)
    intruder.tls_set(ca_certs=str(files.ca), certfile=str(files.cert), keyfile=str(files.key),
                     tls_version=ssl.PROTOCOL_TLS_CLIENT)
    intruder.connect(broker.host, broker.port)
    deadline = time.monotonic() + TIMEOUT_S
    while not intruder.is_connected():
        assert time.monotonic() < deadline, f"{client_id}: the intruder never connected"
        intruder.loop(0.05)
    intruder.disconnect()
    intruder.loop(0.05)


DroppedRun = tuple[dict[str, Any], Path, dict[str, float]]


def wait_for(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + TIMEOUT_S
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


@pytest.fixture(scope="module")
def dropped_run(mosquitto: Mosquitto, tmp_path_factory: pytest.TempPathFactory) -> DroppedRun:
    out = tmp_path_factory.mktemp("reconnects") / "run"
    config = FleetConfig(IdRange("ven-drop", 0, VENS), VENS, ramp_per_s=40.0, duration_s=12.0,
                         telemetry_interval_s=1.0, probe_rate=5.0)
    server = MetricsServer(0)
    errors: list[BaseException] = []

    def knock_off(runner: FleetRunner) -> None:
        try:  # once every VEN is up and the fan-out's restores are in
            wait_for(lambda: runner.probe is not None
                     and runner.probe.tally["fanout_restore"].acked == VENS, "the restores")
            for ven_id in DROPPED:
                take_over(mosquitto, ven_id)
            wait_for(lambda: runner.metrics.reconnects == len(DROPPED)
                     and runner.metrics.connected == VENS, "the reconnects")
        except BaseException as exc:  # noqa: BLE001 - reported by the test below
            errors.append(exc)

    def on_runner(runner: FleetRunner) -> None:
        server.attach(runner)
        threading.Thread(target=knock_off, args=(runner,), daemon=True).start()

    try:
        options = WireOptions(mosquitto.url, local_ca=mosquitto.folder / "certs")
        results = run_fleet(config, options, out, say=lambda _line: None, on_runner=on_runner)
        scraped = scrape(server.port)  # the collector still reads the finished runner
    finally:
        server.close()
    assert not errors, errors
    return results, out, scraped


def test_each_drop_is_one_disconnect_and_one_reconnect(dropped_run: DroppedRun) -> None:
    results, _, _ = dropped_run
    assert results["reconnects"] == len(DROPPED)
    assert results["disconnects"] == {"takeover_rc7": len(DROPPED)}
    assert results["unexpected_disconnects"] == len(DROPPED)
    assert results["vens_connected"] == results["connected_at_end"] == VENS
    assert results["fanout"]["restore"]["acked"] == VENS


def test_the_timeline_and_prometheus_count_them_too(dropped_run: DroppedRun) -> None:
    _, out, scraped = dropped_run
    rows = load_timeline(out / "timeline.csv")
    assert int(rows[-1]["reconnects"]) == int(rows[-1]["unexpected_disconnects"]) == len(DROPPED)
    assert int(rows[0]["reconnects"]) <= len(DROPPED)
    assert scraped["ven_fleet_reconnects_total"] == len(DROPPED)
    assert scraped["ven_fleet_disconnects_total{reason=takeover_rc7}"] == len(DROPPED)
    assert scraped["ven_fleet_fanout_restore_acked_total"] == VENS
    assert scraped["ven_fleet_fanout_restore_ack_seconds_count"] == VENS
