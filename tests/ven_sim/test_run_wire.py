"""`ven-sim run --broker ...`, `listen` and `send` against real brokers on 127.0.0.1."""

from __future__ import annotations

import json
import stat
import threading
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from sim.scenario_loader import load_scenario
from ven_sim.broker.mosquitto import free_port
from ven_sim.broker.shadow_service import ShadowService
from ven_sim.cli import main
from ven_sim.runner import run_scenario
from ven_sim.transports.mqtt import TlsFiles
from ven_sim.transports.paho import PahoTransport
from ven_sim.wire import open_wire

SHORT = """\
name: short_wire
seed: 3
start: 2026-07-15T12:00:00Z
duration: 3h
speed: max
report_interval: 5m
physics_step: 60s
baseline_window: 30m
weather: {min_c: 24, max_c: 35, peak_hour: 15}
fleet:
  - name: homes
    template: solar_home
    count: 4
events:
  - id: evt-short
    start: "+1h"
    duration: 1h
    per_ven_kw: 2.0
    target: all
"""


@pytest.fixture
def short(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("VEN_SIM_CERTS", str(tmp_path / "certs"))
    path = tmp_path / "short.yaml"
    path.write_text(SHORT)
    return path


def run_cli(*args: str) -> dict:
    out = Path(args[args.index("--out") + 1])
    result = CliRunner().invoke(main, ["run", *args])
    assert result.exit_code == 0, result.output
    return json.loads((out / "summary.json").read_text())


def test_inprocess_wire_at_max_speed(short: Path, tmp_path: Path) -> None:
    summary = run_cli(str(short), "--broker", "inprocess", "--out", str(tmp_path / "o"))
    mqtt = summary["mqtt"]
    assert mqtt["acks"] == mqtt["commands"] == 4 and mqtt["errors"] == 0
    assert mqtt["published"] > 4 * 36  # telemetry on two topics, shadows, acks
    (event,) = summary["events"]
    assert event["delivered_kw"] > 0


@pytest.mark.parametrize("interval", ["40s", "45s", "5m"])
def test_every_controller_report_reaches_the_shadow_at_intervals_of_30_s_or_more(
        tmp_path: Path, interval: str) -> None:
    """docs/contract.md, the device shadow: at a report_interval of 30 s or more the VEN
    reports every controller report, its event's ack and end between them."""
    path = tmp_path / "s.yaml"
    path.write_text(SHORT.replace("report_interval: 5m", f"report_interval: {interval}")
                    .replace("physics_step: 60s", "physics_step: 5s"))
    scenario = load_scenario(path)
    wire = open_wire("inprocess")
    reported: dict[str, set[int]] = {}

    def keep(topic: str, payload: bytes) -> None:
        ven = json.loads(payload)["state"]["reported"]["ven"]
        if ven["lastPublishTs"] is not None:
            reported.setdefault(ven["venId"], set()).add(ven["lastPublishTs"])

    wire.transport.open("watch", keep).subscribe("$aws/things/+/shadow/update")
    try:
        result = run_scenario(scenario, wire=wire)
    finally:
        wire.close()
    start = scenario.start.timestamp()
    rows: dict[str, set[int]] = {}
    for row in result.log.rows:
        rows.setdefault(row.ven_id, set()).add(round(start + row.t1))
    assert len(rows) == 4 and all(len(times) >= 3 * 3600 / 300 for times in rows.values())
    assert reported == rows


def test_embedded_broker_paced_run_acks_every_event(short: Path, tmp_path: Path) -> None:
    summary = run_cli(
        str(short),
        "--broker",
        f"embedded:{free_port()}",
        "--speed",
        "3600",
        "--out",
        str(tmp_path / "o"),
    )
    mqtt = summary["mqtt"]
    assert mqtt["acks"] == 4 and mqtt["errors"] == 0
    assert mqtt["ack_rtt_ms_p50"] is not None and mqtt["ack_rtt_ms_p99"] >= mqtt["ack_rtt_ms_p50"]
    keys = list((tmp_path / "certs" / "local").rglob("*.key"))
    assert keys and all(stat.S_IMODE(k.stat().st_mode) == 0o600 for k in keys)


def test_mosquitto_run_publishes_contract_telemetry_and_shadows(
    short: Path, tmp_path: Path, mosquitto
) -> None:
    seen: list[dict] = []
    lock = threading.Lock()
    shadow = ShadowService(
        mosquitto.url, TlsFiles.from_paths(mosquitto.client_cert("shadow-service"))
    ).start()
    watcher = PahoTransport(mosquitto.url, TlsFiles.from_paths(mosquitto.client_cert("watch")))

    def keep(topic: str, payload: bytes) -> None:
        with lock:
            seen.append(json.loads(payload))

    conn = watcher.open("watch", keep)
    conn.subscribe("volttron/metering")
    client = mosquitto.client_cert("vens")
    try:
        summary = run_cli(
            str(short),
            "--broker",
            mosquitto.url,
            "--ca",
            str(mosquitto.ca_path),
            "--cert",
            str(client.cert),
            "--key",
            str(client.key),
            "--speed",
            "3600",
            "--out",
            str(tmp_path / "o"),
        )
        # The last shadow report ("offline") may still be crossing the broker.
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and _status(shadow, "ven-homes-0001") != "offline":
            time.sleep(0.05)
    finally:
        watcher.close()
        shadow.stop()
    assert summary["mqtt"]["acks"] == 4 and summary["mqtt"]["errors"] == 0
    with lock:
        assert len(seen) >= 4 * 30
        sample = seen[-1]
    assert isinstance(sample["timestamp"], int) and isinstance(sample["usedPowerKw"], float)
    assert sample["venId"].startswith("ven-homes-")
    doc = shadow.store.document("ven-homes-0001")
    assert doc["state"]["reported"]["ven"]["status"] == "offline"  # the run ended cleanly
    assert doc["state"]["reported"]["metrics"]["lastEventSummary"]["eventId"] == "evt-short"


def _status(shadow: ShadowService, thing: str) -> str | None:
    doc = shadow.store.document(thing)
    return doc["state"]["reported"]["ven"]["status"] if doc else None


def test_listen_and_send_while_a_scenario_runs(short: Path, tmp_path: Path) -> None:
    port = free_port()
    scenario = load_scenario(short).with_overrides(speed=1800)  # 3 h in 6 s
    wire = open_wire(f"embedded:{port}", certs_dir=tmp_path / "certs")
    runner = threading.Thread(target=run_scenario, args=(scenario,), kwargs={"wire": wire})
    runner.start()
    try:
        listened = CliRunner().invoke(
            main, ["listen", "--broker", f"embedded:{port}", "--count", "3", "--seconds", "20"]
        )
        assert listened.exit_code == 0, listened.output
        lines = [ln for ln in listened.output.splitlines() if " telemetry " in ln]
        assert len(lines) >= 3 and "used" in lines[0]
        sent = CliRunner().invoke(
            main, ["send", "ven-homes-0002", "ping", "--broker", f"embedded:{port}"]
        )
        assert sent.exit_code == 0, sent.output
        assert '"pong": true' in sent.output and "rtt" in sent.output
        bad = CliRunner().invoke(
            main,
            [
                "send",
                "ven-homes-0002",
                "setLoad",
                "--data",
                '{"loadId": "pool9", "enabled": false}',
                "--broker",
                f"embedded:{port}",
            ],
        )
        assert bad.exit_code == 1 and "unknown loadId" in bad.output
    finally:
        runner.join(60)
        wire.close()


def test_send_times_out_with_exit_1_when_nobody_answers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VEN_SIM_CERTS", str(tmp_path / "certs"))
    port = free_port()
    wire = open_wire(f"embedded:{port}", certs_dir=tmp_path / "certs")
    try:
        result = CliRunner().invoke(
            main, ["send", "ven-nobody", "ping", "--timeout", "1", "--broker", f"embedded:{port}"]
        )
    finally:
        wire.close()
    assert result.exit_code == 1 and "no ack from ven-nobody" in result.output


def test_bad_broker_settings_are_one_clear_error(short: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main,
        [
            "run",
            str(short),
            "--broker",
            "mqtts://127.0.0.1:8883",
            "--ca",
            str(tmp_path / "missing.pem"),
            "--speed",
            "60",
            "--out",
            str(tmp_path / "o"),
        ],
    )
    assert result.exit_code != 0
    assert "missing.pem" in result.output and result.output.strip().count("\n") == 0
    result = CliRunner().invoke(
        main, ["run", str(short), "--broker", "embedded", "--out", str(tmp_path / "o")]
    )
    assert result.exit_code == 2 and "--speed" in result.output
    assert not (tmp_path / "o").exists()
