"""`latency` and `clock_skew` faults on simulated time, on the in-process broker."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from actors.runtime import Dispatcher
from sim.scenario import ScenarioError
from sim.scenario_loader import load_scenario
from ven_sim.faults import FaultPlayer
from ven_sim.kernel import Kernel
from ven_sim.transports.inprocess import InProcessTransport
from ven_sim.wire import Wire

from .fault_runs import OUTAGE, Run, ending_after_the_event, run

CALM = OUTAGE.read_text()[: OUTAGE.read_text().index("faults:")]


def with_fault(tmp_path: Path, fault: str, name: str = "fault.yaml") -> Path:
    path = tmp_path / name
    path.write_text(CALM + "faults:\n" + fault)
    return path


LATENCY = """  - kind: latency
    target: homes
    start: "14:00"
    duration: 1h
    delay: 2s
    jitter: 3s
"""


def test_latency_delays_only_its_groups_messages_both_ways_and_keeps_their_order(
        tmp_path: Path) -> None:
    """Messages sent at known simulated times, their arrival read off the kernel's clock."""
    scenario = load_scenario(with_fault(tmp_path, LATENCY))
    kernel = Kernel("max", Dispatcher("latency", depth_first=True))
    transport = InProcessTransport()
    FaultPlayer(kernel, scenario, Wire(transport, "in-process bus", networked=False))
    env = kernel.env
    arrivals: dict[str, list[tuple[float, float]]] = {"home": [], "solar": [], "to_home": []}

    def arrived(kind: str):
        return lambda _topic, payload: arrivals[kind].append((json.loads(payload), env.now))

    backend = transport.open("backend", lambda t, p: arrived(
        "home" if "homes" in t else "solar")(t, p))
    backend.subscribe("ven/telemetry/+")
    home = transport.open("ven-homes-0001", arrived("to_home"))
    home.subscribe("ven/cmd/ven-homes-0001")
    solar = transport.open("ven-solar-0001", lambda _t, _p: None)

    def traffic():
        for second in range(13 * 3600, 16 * 3600, 60):  # 13:00 to 16:00, every minute
            yield env.timeout(second - env.now)
            home.publish("ven/telemetry/ven-homes-0001", json.dumps(second).encode())
            solar.publish("ven/telemetry/ven-solar-0001", json.dumps(second).encode())
            backend.publish("ven/cmd/ven-homes-0001", json.dumps(second).encode())

    env.process(traffic())
    kernel.run(16 * 3600 + 60)
    window = (14 * 3600, 15 * 3600)
    for kind in ("home", "to_home"):  # both ways
        sent = [s for s, _ in arrivals[kind]]
        assert sent == sorted(sent) and len(sent) == 180  # all of them, in order
        delays = {s: at - s for s, at in arrivals[kind]}
        inside = [delays[s] for s in sent if window[0] <= s < window[1]]
        assert all(2.0 <= d <= 5.0 for d in inside)
        assert len({round(d, 6) for d in inside}) > 30  # jittered, not one fixed delay
        assert all(delays[s] == 0 for s in sent if not window[0] <= s < window[1])
    assert all(at == s for s, at in arrivals["solar"])  # another group: no delay


def test_a_latency_run_reports_it_acks_every_event_and_is_deterministic(tmp_path: Path) -> None:
    # The day ends at 17:00: the window, the event and its acks are over by then.
    path = ending_after_the_event(with_fault(tmp_path, LATENCY.replace('"14:00"', '"14:55"')))
    first, seen = run(path, watch="ven-homes-0002")
    second, seen_again = run(path, watch="ven-homes-0002")
    summary = first.summary
    [record] = summary["faults"]
    delayed = record.pop("messages_delayed")
    assert record == {
        "kind": "latency", "start": "2026-07-15T14:55:00Z", "end": "2026-07-15T15:55:00Z",
        "start_s": 53700.0, "end_s": 57300.0, "target": "homes", "vens": 12,
        "delay_s": 2.0, "jitter_s": 3.0,
    }
    # Each home in the window: 12 reports on 2 topics, the event command in and its ack out.
    assert delayed >= 12 * (12 * 2 + 2)
    assert summary["mqtt"]["acks"] == 24 and summary["mqtt"]["errors"] == 0
    assert summary["telemetry_lost"] == 0
    stamps = [doc["timestamp"] for doc in seen]
    assert stamps == sorted(stamps) and len(stamps) == 17 * 12  # every 5 min until 17:00
    assert seen == seen_again and first.log.sorted_rows() == second.log.sorted_rows()


SKEW = """  - kind: clock_skew
    target: homes
    start: "14:30"
    duration: 2h
    offset: -5m
"""


@pytest.fixture(scope="module")
def skew_acks() -> list[dict[str, Any]]:
    return []


@pytest.fixture(scope="module")
def skew(tmp_path_factory: pytest.TempPathFactory, skew_acks: list[dict[str, Any]]) -> Run:
    """The homes' clocks 5 min slow 14:30-16:30, telemetry and acks watched; one run shared
    by the tests that compare it with the calm day."""
    path = ending_after_the_event(with_fault(tmp_path_factory.mktemp("skew"), SKEW))
    return run(path, watch="+", acks=skew_acks)


def test_clock_skew_moves_a_groups_wire_timestamps_and_nothing_it_measures(
        calm: Run, skew: Run) -> None:
    quiet, calm_seen = calm
    skewed, seen = skew
    [record] = skewed.summary["faults"]
    assert record["kind"] == "clock_skew" and record["offset_s"] == -300.0
    assert record["vens"] == 12 and record["target"] == "homes"
    assert skewed.log.sorted_rows() == quiet.log.sorted_rows()  # what the VENs measured
    assert skewed.summary["events"] == quiet.summary["events"]
    day = skewed.scenario.start.timestamp()
    shifted = 0
    assert len(seen) == len(calm_seen)
    for got, want in zip(seen, calm_seen, strict=True):
        assert {**got, "timestamp": 0} == {**want, "timestamp": 0}
        wrong = (got["venId"].startswith("ven-homes-")
                 and day + 14.5 * 3600 <= want["timestamp"] < day + 16.5 * 3600)
        assert got["timestamp"] == want["timestamp"] - (300 if wrong else 0)
        shifted += wrong
    assert shifted == 12 * 24  # 24 five-minute reports in the 2 h window, per home


def test_clock_skew_stamps_the_event_acks(calm: Run, skew: Run, calm_acks: list[dict[str, Any]],
                                         skew_acks: list[dict[str, Any]]) -> None:
    # `calm` and `skew` are asked for so that their runs have filled the ack lists.
    assert len(calm_acks) == len(skew_acks) == 24
    for calm_ack, skewed in zip(sorted(calm_acks, key=lambda a: a["venId"]),
                                sorted(skew_acks, key=lambda a: a["venId"]), strict=True):
        offset = -300 if calm_ack["venId"].startswith("ven-homes-") else 0
        assert skewed["venId"] == calm_ack["venId"]
        assert skewed["ts"] == calm_ack["ts"] + offset


@pytest.mark.parametrize(("fault", "problem"), [
    (LATENCY.replace("    delay: 2s\n", ""), r"faults\[0\]\.delay: a latency fault needs a delay"),
    (LATENCY.replace("delay: 2s", "delay: 11m"), r"faults\[0\]\.delay: delay plus jitter must"),
    (LATENCY.replace("latency", "connection_drop"),
     r"faults\[0\]\.delay: only a latency fault has a delay"),
    (SKEW.replace("    offset: -5m\n", ""), r"faults\[0\]\.offset: a clock_skew fault needs"),
    (SKEW.replace("-5m", "soon"), r"faults\[0\]\.offset: must be a duration with a sign"),
    (SKEW.replace("-5m", "+8d"), r"faults\[0\]\.offset: must be non-zero and at most"),
    (SKEW.replace("homes", "home"), r"faults\[0\]\.target: is not a fleet group"),
])
def test_latency_and_skew_are_validated_with_file_and_line(
        tmp_path: Path, fault: str, problem: str) -> None:
    with pytest.raises(ScenarioError, match=r"fault\.yaml:\d+: " + problem):
        load_scenario(with_fault(tmp_path, fault))
