"""Presence: a VEN killed with SIGKILL is seen offline through its MQTT Last Will.

A real `ven-sim live` process against each real broker (the embedded amqtt broker and
mosquitto, both mutual TLS on 127.0.0.1) with the shadow service; the test kills it and
waits for the will on `ven/status/{thing}` and the shadow's `reported.ven.status`.
"""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
import threading
import time
from typing import Any

import pytest

from ven_sim.broker.shadow_service import ShadowService
from ven_sim.transports.mqtt import TlsFiles
from ven_sim.transports.paho import PahoTransport

TIMEOUT_S = 60.0  # generous: a loaded machine; a pass never waits this long
_ids = itertools.count(1)


def wait_for(condition: Any, what: str) -> None:
    deadline = time.monotonic() + TIMEOUT_S
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


@pytest.mark.parametrize("wire", ["embedded_broker", "mosquitto"])
def test_a_killed_ven_is_seen_offline_through_its_last_will(
        wire: str, request: pytest.FixtureRequest) -> None:
    broker = request.getfixturevalue(wire)
    thing = f"ven-will-{os.getpid()}-{next(_ids)}"
    service = ShadowService(broker.url,
                            TlsFiles.from_paths(broker.client_cert(f"shadow-{thing}"))).start()
    transport = PahoTransport(broker.url, lambda cid: TlsFiles.from_paths(broker.client_cert(cid)))
    seen: list[dict[str, Any]] = []
    watcher = transport.open(f"watch-{thing}", lambda _t, p: seen.append(json.loads(p)))
    watcher.subscribe(f"ven/status/{thing}")
    paths = broker.client_cert(thing)
    proc = subprocess.Popen(
        [sys.executable, "-m", "ven_sim", "live", "--thing-name", thing, "--broker",
         str(broker.url), "--ca", str(paths.ca), "--cert", str(paths.cert), "--key",
         str(paths.key), "--web-port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    lines: list[str] = []
    threading.Thread(target=lambda: lines.extend(proc.stdout), daemon=True).start()

    def status() -> str | None:
        doc = service.store.document(thing)
        return doc["state"]["reported"]["ven"]["status"] if doc else None

    try:
        wait_for(lambda: status() == "online" and watcher.connected, "the VEN online")
        proc.send_signal(signal.SIGKILL)  # no DISCONNECT, no "offline" report of its own
        proc.wait(TIMEOUT_S)
        # Two subscribers, two connections: the will and the shadow's update race.
        wait_for(lambda: status() == "offline" and seen, "the will and the offline shadow")
        assert seen[-1] == {"venId": thing, "status": "offline",
                            "reason": "connection lost without a goodbye"}
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        watcher.close()
        transport.close()
        service.stop()
    assert "".join(lines)  # it did run


def test_a_clean_stop_publishes_no_will(embedded_broker: Any) -> None:
    thing = f"ven-clean-{os.getpid()}"
    transport = PahoTransport(embedded_broker.url,
                              lambda cid: TlsFiles.from_paths(embedded_broker.client_cert(cid)))
    seen: list[bytes] = []
    watcher = transport.open(f"watch-{thing}", lambda _t, p: seen.append(p))
    watcher.subscribe(f"ven/status/{thing}")
    ven = transport.open(thing, lambda *_: None, will=(f"ven/status/{thing}", b"gone"))
    try:
        wait_for(lambda: watcher.connected and ven.connected, "both connected")
        ven.close()
        probe = transport.open(f"probe-{thing}", lambda _t, p: seen.append(p))
        probe.subscribe(f"ven/status/{thing}")
        wait_for(lambda: probe.connected, "the probe")
        probe.publish(f"ven/status/{thing}", b"marker")  # after the close: orders the check
        wait_for(lambda: b"marker" in seen, "the marker")
        assert b"gone" not in seen
    finally:
        transport.close()
