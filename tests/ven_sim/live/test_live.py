"""The live VEN in real time, on the embedded broker and on mosquitto (mTLS, 127.0.0.1)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from ven_sim.broker.mosquitto import free_port
from ven_sim.broker.shadow_service import ShadowService
from ven_sim.cli import main
from ven_sim.live.ven import LiveConfig, LiveVen
from ven_sim.transports.mqtt import TlsFiles
from ven_sim.transports.paho import PahoTransport
from ven_sim.wire import Wire, open_wire
from ven_sim.wire_tools import command, request

WAIT_S = 15.0
# Reports every second instead of the default 5 s: each step below that waits for the next
# report (the event in it, then gone, then the backend's change) waits a second, not five.
REPORT_S = 1.0


class Running:
    """A LiveVen on its own thread, plus a backend connection watching its telemetry."""

    def __init__(self, wire: Wire, thing: str, shadows: Callable[[str], dict | None]) -> None:
        self.thing = thing
        self.wire = wire
        self.shadows = shadows
        self.telemetry: list[dict] = []
        self.lock = threading.Lock()
        self.first_at: float | None = None
        self.watch = wire.transport.open(f"watch-{thing}", self._seen)
        self.watch.subscribe(f"ven/telemetry/{thing}")
        self.started = time.monotonic()
        self.ven = LiveVen(LiveConfig(thing_name=thing, report_interval_seconds=REPORT_S), wire)
        self.thread = threading.Thread(target=self.ven.run, daemon=True)
        self.thread.start()

    def _seen(self, topic: str, payload: bytes) -> None:
        with self.lock:
            if self.first_at is None:
                self.first_at = time.monotonic()
            self.telemetry.append(json.loads(payload))

    def wait_for(self, condition: Callable[[], bool], timeout: float = WAIT_S) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            assert time.monotonic() < deadline, "timed out"
            time.sleep(0.05)  # polling what another process-like thread does

    def send(self, op: str, data: dict) -> dict:
        answer = request(self.wire.transport, command(self.thing, op, data), WAIT_S)
        assert answer is not None, f"no ack for {op}"
        return answer[0]

    def last(self) -> dict:
        with self.lock:
            return self.telemetry[-1]

    def stop(self) -> float:
        began = time.monotonic()
        self.ven.stop()
        self.thread.join(WAIT_S)
        self.watch.close()
        return time.monotonic() - began


@pytest.fixture(params=["embedded", "mosquitto"])
def live(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Running]:
    thing = f"live-{request.param}-{int(time.monotonic() * 1000) % 100000}"
    closers = []
    if request.param == "embedded":
        wire = open_wire(f"embedded:{free_port()}", certs_dir=tmp_path / "certs")

        def shadows(name: str) -> dict | None:
            return _shadow_via_get(wire, name)
    else:
        broker = request.getfixturevalue("mosquitto")
        service = ShadowService(
            broker.url, TlsFiles.from_paths(broker.client_cert(f"shadow-{thing}"))
        ).start()
        closers.append(service.stop)
        transport = PahoTransport(
            broker.url, lambda cid: TlsFiles.from_paths(broker.client_cert(cid))
        )
        wire = Wire(transport, "mosquitto", networked=True)
        shadows = service.store.document
    running = Running(wire, thing, shadows)
    yield running
    running.stop()
    wire.close()
    for close in closers:
        close()


def _shadow_via_get(wire: Wire, thing: str) -> dict | None:
    """Ask the embedded shadow service for a document, as any client would."""
    got: dict = {}
    done = threading.Event()

    def on_message(topic: str, payload: bytes) -> None:
        got["doc"] = json.loads(payload) if topic.endswith("/accepted") else None
        done.set()

    conn = wire.transport.open(f"peek-{time.monotonic_ns() % 10**9}", on_message)
    try:
        for suffix in ("accepted", "rejected"):
            conn.subscribe(f"$aws/things/{thing}/shadow/get/{suffix}")
        time.sleep(0.2)  # let the subscriptions land before asking
        conn.publish(f"$aws/things/{thing}/shadow/get", b"{}")
        done.wait(WAIT_S)
    finally:
        conn.close()
    return got.get("doc")


def test_live_ven_end_to_end(live: Running) -> None:
    live.wait_for(lambda: live.first_at is not None)
    # Connecting on loopback takes milliseconds; the first report follows within a second.
    assert live.first_at - live.started < 3.0
    live.wait_for(lambda: len(live.telemetry) >= 2)
    with live.lock:
        first, second = live.telemetry[0], live.telemetry[1]
    assert second["timestamp"] - first["timestamp"] == REPORT_S  # at the configured interval
    assert LiveConfig(thing_name="x").report_interval_seconds == 5.0  # `ven-sim live`'s own
    assert first["venId"] == live.thing and len(first["loads"]) == 8
    # The web UI's state holds the rows of a telemetry as it was published (told as text).
    compared: list[tuple[list, list]] = []

    def shown_one_seen() -> bool:
        shown = live.ven.state.telemetry
        with live.lock:
            seen = {t["timestamp"]: t["loads"] for t in live.telemetry}
        if shown is not None and shown["timestamp"] in seen:
            compared.append((shown["loads"], seen[shown["timestamp"]]))
        return bool(compared)

    live.wait_for(shown_one_seen)
    assert compared[0][0] == compared[0][1]

    pong = live.send("ping", {})
    assert pong["ok"] is True and pong["data"]["pong"] is True

    ack = live.send("event", {"event_id": "e-1", "requestedReductionKw": 0.5, "duration_s": 600})
    assert ack["ok"] is True and ack["event_id"] == "e-1"
    assert len(ack["circuits_curtailed"]) == 8
    live.wait_for(lambda: live.last()["eventId"] == "e-1")
    restore = live.send("restore", {"event_id": "e-1"})
    assert restore["ok"] is True
    live.wait_for(lambda: live.last()["eventId"] is None)

    # The backend switches the EV charger off through the shadow's desired state.
    live.wait_for(lambda: live.shadows(live.thing) is not None)
    desire = live.wire.transport.open(f"desire-{live.thing}", lambda t, p: None)
    desire.publish(
        f"$aws/things/{live.thing}/shadow/update",
        json.dumps({"state": {"desired": {"loads": {"ev1": {"enabled": False}}}}}).encode(),
    )
    live.wait_for(lambda: not next(r for r in live.last()["loads"] if r["id"] == "ev1")["enabled"])
    desire.close()
    assert live.stop() < 5.0
    # The last report reaches the shadow service through the broker after the VEN is gone.
    live.wait_for(lambda: live.shadows(live.thing)["state"]["reported"]["ven"]["status"]
                  == "offline")


def test_live_cli_stops_cleanly_and_bad_certs_fail(tmp_path: Path) -> None:
    missing = str(tmp_path / "nope.pem")
    result = CliRunner().invoke(
        main,
        [
            "live",
            "--thing-name",
            "x",
            "--broker",
            "mqtts://127.0.0.1:8883",
            "--ca",
            missing,
            "--web-port",
            "0",
        ],
    )
    assert result.exit_code != 0 and "nope.pem" in result.output
    result = CliRunner().invoke(main, ["live", "--broker", "mqtt://127.0.0.1:1", "--web-port", "0"])
    assert result.exit_code == 2 and "thing-name" in result.output
    result = CliRunner().invoke(
        main,
        [
            "live",
            "--thing-name",
            "cli-ven",
            "--broker",
            "inprocess",
            "--web-port",
            "0",
            "--seconds",
            "2",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "cli-ven stopped" in result.output


def test_sigterm_stops_the_live_process_cleanly(tmp_path: Path) -> None:
    env = {**os.environ, "VEN_SIM_CERTS": str(tmp_path / "certs")}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "ven_sim",
            "live",
            "--thing-name",
            "sig-ven",
            "--broker",
            "inprocess",
            "--web-port",
            "0",
        ],
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert proc.stderr is not None
        assert "live on" in proc.stderr.readline()  # it is up, so SIGTERM is handled from now
        proc.send_signal(signal.SIGTERM)
        # Generous: a pass takes well under a second; a slow machine must not fail it.
        returncode = proc.wait(timeout=60)
        rest = proc.stderr.read()
        assert returncode == 0, rest
        assert "sig-ven stopped" in rest
    finally:
        if proc.poll() is None:
            proc.kill()


def test_a_certificate_that_is_not_one_is_a_clear_error(tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n")
    result = CliRunner().invoke(
        main,
        [
            "live",
            "--thing-name",
            "x",
            "--broker",
            f"mqtts://127.0.0.1:{free_port()}",
            "--ca",
            str(ca),
            "--web-port",
            "0",
            "--seconds",
            "2",
        ],
    )
    assert result.exit_code == 1
    message = result.output.strip()
    assert "ca.pem" in message and message.count("\n") == 0
