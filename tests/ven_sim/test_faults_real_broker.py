"""A VEN crash, and the shipped broker outage, as paced `ven-sim run`s on mosquitto (mutual
TLS on 127.0.0.1), checked on the broker side by a subscriber of the test's own."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from ven_sim.broker.shadow_service import ShadowService
from ven_sim.cli import main
from ven_sim.transports.mqtt import TlsFiles
from ven_sim.transports.paho import PahoTransport

from .fault_runs import PACED, PACED_REPORTS, PACED_START
from .helpers import wait_for

ROOT = Path(__file__).resolve().parents[2]
PASS_ON_S = 0.5  # the last messages crossing the broker to the watcher after the run ends
WAIT_S = 20.0  # generous: the watcher's TLS connection on a busy machine

# The wire tests' short scenario, paced; one home dies 10 minutes into the event and is
# restarted 20 minutes later.
CRASH = PACED + """\
faults:
  - kind: ven_crash
    target: ven-homes-0002
    start: "+70m"
    duration: 20m
"""
START = PACED_START
CRASHED = "ven-homes-0002"


@contextmanager
def watching(mosquitto: Any, *filters: str) -> Iterator[list[tuple[str, Any]]]:
    """Every message on `filters` as (topic, JSON), in the order the broker passed them on."""
    seen: list[tuple[str, Any]] = []
    lock = threading.Lock()

    def keep(topic: str, payload: bytes) -> None:
        with lock:
            seen.append((topic, json.loads(payload)))

    watcher = PahoTransport(mosquitto.url, TlsFiles.from_paths(mosquitto.client_cert("watch")))
    conn = watcher.open(f"watch-{time.monotonic_ns()}", keep)
    for topic_filter in filters:
        conn.subscribe(topic_filter)
    assert wait_for(lambda: conn.connected, WAIT_S)
    time.sleep(PASS_ON_S)  # the SUBACK
    try:
        yield seen
    finally:
        time.sleep(PASS_ON_S)
        watcher.close()


def run_on(mosquitto: Any, scenario: Path, out: Path) -> dict[str, Any]:
    """`ven-sim run` of `scenario` on mosquitto; its summary.json."""
    client = mosquitto.client_cert("vens")
    result = CliRunner().invoke(main, [
        "run", str(scenario), "--broker", mosquitto.url, "--ca", str(mosquitto.ca_path),
        "--cert", str(client.cert), "--key", str(client.key), "--out", str(out)])
    assert result.exit_code == 0, result.output
    return json.loads((out / "summary.json").read_text())


def test_a_crashed_ven_is_seen_offline_by_its_will_and_comes_back_fresh(
        mosquitto, tmp_path: Path) -> None:
    scenario = tmp_path / "crash.yaml"
    scenario.write_text(CRASH)
    shadows = ShadowService(mosquitto.url,
                            TlsFiles.from_paths(mosquitto.client_cert("shadow-crash"))).start()
    try:
        with watching(mosquitto, "ven/status/+", "ven/telemetry/+",
                      f"$aws/things/{CRASHED}/shadow/#") as seen:
            summary = run_on(mosquitto, scenario, tmp_path / "out")
    finally:
        shadows.stop()
    [fault] = summary["faults"]
    assert {k: fault[k] for k in ("kind", "target", "vens", "reports_missed", "restarted",
                                  "start_s", "end_s")} == {
        "kind": "ven_crash", "target": CRASHED, "vens": 1, "reports_missed": 4,
        "restarted": 1, "start_s": 70 * 60, "end_s": 90 * 60}
    assert fault["reconnected_s"] is not None and fault["reconnected_s"] >= 90 * 60
    # Counted on the broker: every report made reached it; a dead VEN made none.
    assert summary["telemetry_counted_on"] == "broker"
    assert summary["telemetry_lost"] == 0 and summary["telemetry_replayed"] == 0
    assert summary["failed_vens"] == [] and summary["mqtt"]["errors"] == 0
    [event] = summary["events"]
    assert event["gap_filled_ven_hours"] == round(20 / 60, 3)

    # The broker published the crashed VEN's Last Will, and only its: no DISCONNECT was sent.
    wills = [(i, body) for i, (topic, body) in enumerate(seen) if topic.startswith("ven/status/")]
    assert [will for _, will in wills] == [{
        "venId": CRASHED, "status": "offline", "reason": "connection lost without a goodbye"}]
    [(will_at, _)] = wills
    # Its reports: up to the crash, none while dead, then from its restart to the end.
    stamps = [(i, body["timestamp"]) for i, (topic, body) in enumerate(seen)
              if topic == f"ven/telemetry/{CRASHED}"]
    grid = PACED_REPORTS
    dead = [t for t in grid if START + 70 * 60 < t <= START + 90 * 60]
    assert [t for _, t in stamps] == [t for t in grid if t not in dead]
    before = [i for i, t in stamps if t <= START + 70 * 60]
    after = [i for i, t in stamps if t > START + 90 * 60]
    assert max(before) < will_at < min(after)  # the will came between its lives
    # The backend's shadow saw it offline, then the fresh VEN got its shadow again and
    # reported itself online, on a fresh connection (its client tokens count from 1 again).
    shadow = [(i, topic.rsplit("/shadow/", 1)[1], body) for i, (topic, body) in enumerate(seen)
              if topic.startswith(f"$aws/things/{CRASHED}/shadow/") and i > will_at]
    offline = {"reported": {"ven": {"status": "offline"}}}  # what the service makes of a will
    marked_offline = next(i for i, op, body in shadow
                          if op == "update/accepted" and body["state"] == offline)
    get = next(i for i, op, body in shadow if op == "get")
    assert seen[get][1] == {"clientToken": f"{CRASHED}-1"}
    got = next(i for i, op, body in shadow if op == "get/accepted")
    assert seen[got][1]["state"]["reported"]["ven"]["status"] == "offline"
    online = next(i for i, op, body in shadow if op == "update")
    assert seen[online][1]["state"]["reported"]["ven"]["status"] == "online"
    assert marked_offline < get < got < online
    # One get per life, none left over from the first one.
    assert [body for topic, body in seen if topic == f"$aws/things/{CRASHED}/shadow/get"] == [
        {"clientToken": f"{CRASHED}-1"}] * 2
    # The other VENs never noticed.
    for n in (1, 3, 4):
        assert [body["timestamp"] for topic, body in seen
                if topic == f"ven/telemetry/ven-homes-000{n}"] == grid


OUTAGE_DAY_H = 6


def shortened_outage(tmp_path: Path) -> Path:
    """scenarios/broker_outage.yaml, fleet, event and faults block as shipped, on a day cut to
    13:00-19:00 and paced for the network. Two hours of baseline history come before the
    event; the evening is for the reconnects: they back off in wall time (full jitter from
    1 s, doubling per refused attempt), so they need several outages' length after it (and
    any still away at 19:00 are waited for in the run's closing grace)."""
    text = (ROOT / "scenarios" / "broker_outage.yaml").read_text()
    for line, short in (("start: 2026-07-15T00:00:00Z", "start: 2026-07-15T13:00:00Z"),
                        ("duration: 24h", f"duration: {OUTAGE_DAY_H}h"),
                        ("speed: max", "speed: 2400")):
        assert f"\n{line}\n" in text
        text = text.replace(f"\n{line}\n", f"\n{short}\n")
    path = tmp_path / "broker_outage.yaml"
    path.write_text(text)
    return path


def test_the_shipped_outage_on_mosquitto_loses_no_telemetry(mosquitto, tmp_path: Path) -> None:
    with watching(mosquitto, "ven/telemetry/+") as seen:
        summary = run_on(mosquitto, shortened_outage(tmp_path), tmp_path / "out")
    [fault] = summary["faults"]
    assert (fault["kind"], fault["start"], fault["end"]) == (
        "broker_outage", "2026-07-15T15:30:00Z", "2026-07-15T16:15:00Z")
    # Reconnects back off in wall time: on a busy machine some VENs may be back only in the
    # run's closing grace, after the simulated day (then null). Nothing is lost either way.
    assert fault["reconnected_s"] is None or fault["reconnected_s"] >= fault["end_s"]
    assert summary["proxy"]["cut"] >= 24  # every VEN's connection went with the broker
    assert summary["telemetry_counted_on"] == "broker"
    assert summary["telemetry_lost"] == 0
    # The 9 reports each of the 24 VENs made in the 45 minutes reached the broker late.
    assert summary["telemetry_replayed"] == 24 * 9
    assert summary["mqtt"]["acks"] == 24 and summary["mqtt"]["errors"] == 0
    # On the broker: every VEN's 72 reports of the 6 hours, in order. QoS 1 is at least once:
    # a report whose PUBACK the cut took is sent again, so only those may come twice.
    start = 1784120400  # 2026-07-15T13:00:00Z
    cut_at = start + 150 * 60  # 15:30
    by_ven: dict[str, list[int]] = {}
    for _, report in seen:
        by_ven.setdefault(report["venId"], []).append(report["timestamp"])
    assert len(by_ven) == 24
    for stamps in by_ven.values():
        assert list(dict.fromkeys(stamps)) == [
            start + 300 * n for n in range(1, OUTAGE_DAY_H * 12 + 1)]
        again = [stamp for n, stamp in enumerate(stamps) if stamp in stamps[:n]]
        assert all(stamp <= cut_at for stamp in again), again
