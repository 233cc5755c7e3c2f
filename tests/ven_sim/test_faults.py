"""Faults on simulated time: a broker outage in the middle of a DR event, on the in-process
broker the run takes down and brings back. Deterministic at speed max."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from sim.scenario import ScenarioError
from sim.scenario_loader import load_scenario
from ven_sim.cli import main

from .fault_runs import OUTAGE, Run, crash_scenario, ending_after_the_event, run


@pytest.fixture(scope="module")
def outage(tmp_path_factory: pytest.TempPathFactory) -> Run:
    """The shipped scenario until 17:00, like `calm`: the outage and the event are over."""
    path = tmp_path_factory.mktemp("outage") / OUTAGE.name
    path.write_text(OUTAGE.read_text())
    return run(ending_after_the_event(path), watch="ven-homes-0001")


def test_the_shipped_outage_loses_no_telemetry_and_replays_it_in_order(outage) -> None:
    result, seen = outage
    summary = result.summary
    assert summary["faults"] == [{
        "kind": "broker_outage", "start": "2026-07-15T15:30:00Z",
        "end": "2026-07-15T16:15:00Z", "start_s": 55800.0, "end_s": 58500.0,
        "reconnected_s": 58500.0,
    }]
    assert summary["telemetry_lost"] == 0
    assert summary["telemetry_replayed"] == 24 * 9 * 2  # 9 reports of 24 VENs, on 2 topics
    stamps = [doc["timestamp"] for doc in seen]
    assert stamps == sorted(stamps) and len(stamps) == 17 * 12  # every 5 min to 17:00, once
    assert summary["mqtt"]["acks"] == 24 and summary["mqtt"]["errors"] == 0


def test_the_vens_keep_curtailing_through_the_outage(outage, calm) -> None:
    quiet, _ = calm
    result, _ = outage
    assert "faults" not in quiet.summary
    assert result.log.sorted_rows() == quiet.log.sorted_rows()  # the event ran to its end
    assert result.summary["events"] == quiet.summary["events"]


def test_an_outage_longer_than_the_buffer_counts_what_was_lost(tmp_path: Path) -> None:
    text = OUTAGE.read_text().replace("duration: 45m", "duration: 4h").replace(
        "duration: 24h", "duration: 24h").replace("count: 12", "count: 1")
    text = text.replace("report_interval: 5m", "report_interval: 30s").replace(
        "physics_step: 60s", "physics_step: 30s")
    path = tmp_path / "long_outage.yaml"
    path.write_text(text)
    result, seen = run(path, watch="ven-homes-0001")
    summary = result.summary
    # 4 h of 30 s reports: 480 per VEN, each on 2 topics, plus a shadow report each: over 1000.
    assert summary["telemetry_lost"] > 0
    assert summary["telemetry_lost"] + summary["telemetry_replayed"] == 2 * 2 * 480
    stamps = [doc["timestamp"] for doc in seen]
    assert stamps == sorted(stamps)  # what survived came in order
    assert len(stamps) == 2880 - 480 + summary["telemetry_replayed"] // 4  # 2 VENs, 2 topics


def test_faults_are_validated_with_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(OUTAGE.read_text().replace('start: "15:30"', 'start: "+25h"'))
    with pytest.raises(ScenarioError, match=r":\d+: faults\[0\]\.start: must lie within"):
        load_scenario(path)
    path.write_text(OUTAGE.read_text().replace("kind: broker_outage", "kind: meteor"))
    with pytest.raises(ScenarioError, match=r"faults\[0\]\.kind: must be one of broker_outage"):
        load_scenario(path)


def test_run_asks_for_the_in_process_broker(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["run", str(OUTAGE), "--out", str(tmp_path / "o")])
    assert result.exit_code == 2 and "add --broker inprocess" in result.output


def drop_scenario(tmp_path: Path, start: str = "15:30", target: str = "homes") -> Path:
    path = tmp_path / "drop.yaml"
    path.write_text(OUTAGE.read_text().replace(
        "kind: broker_outage", f"kind: connection_drop\n    target: {target}").replace(
        'start: "15:30"', f'start: "{start}"'))
    return path


def by_ven(seen: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for doc in seen:
        out.setdefault(doc["venId"], []).append(doc)
    return out


def test_a_connection_drop_takes_only_its_group_offline(tmp_path: Path, calm) -> None:
    quiet, quiet_seen = calm
    result, seen = run(ending_after_the_event(drop_scenario(tmp_path)), watch="+")
    summary = result.summary
    assert summary["faults"] == [{
        "kind": "connection_drop", "start": "2026-07-15T15:30:00Z",
        "end": "2026-07-15T16:15:00Z", "start_s": 55800.0, "end_s": 58500.0,
        "target": "homes", "vens": 12, "reconnected_s": 58500.0,
    }]
    assert summary["telemetry_lost"] == 0
    assert summary["telemetry_replayed"] == 12 * 9 * 2  # only the homes buffered
    assert result.log.sorted_rows() == quiet.log.sorted_rows()  # everyone kept curtailing
    assert result.summary["events"] == quiet.summary["events"]
    after, before = by_ven(seen), by_ven(quiet_seen)
    # Per VEN, every report of a calm run in the same order: the solar homes saw nothing,
    # the homes' reports of the window came late but in order.
    assert after == before and len(after) == 24
    day = load_scenario(OUTAGE).start.timestamp()
    scale = 1000 if seen[0]["timestamp"] > 1e11 else 1  # milliseconds or seconds
    order = [(doc["venId"], time.strftime("%H:%M", time.gmtime(doc["timestamp"] / scale)))
             for doc in seen]
    assert day <= seen[0]["timestamp"] / scale
    # A home's 15:35 report reached the backend after the solar homes' 16:10 one: replayed.
    assert order.index(("ven-homes-0001", "15:35")) > order.index(("ven-solar-0001", "16:10"))


@pytest.fixture(scope="module")
def early_drop(tmp_path_factory: pytest.TempPathFactory) -> Run:
    """The homes drop 14:50-15:35, over the event's 15:00 command; every VEN watched; the
    day ends at 17:00."""
    path = drop_scenario(tmp_path_factory.mktemp("drop"), start="14:50")
    return run(ending_after_the_event(path), watch="+")


def test_a_command_sent_during_a_drop_is_held_and_delivered_on_reconnect(early_drop) -> None:
    result, _ = early_drop
    summary = result.summary
    assert summary["faults"][0]["start_s"] < 15 * 3600 < summary["faults"][0]["end_s"]
    assert summary["mqtt"]["commands"] == 24 and summary["mqtt"]["acks"] == 24
    assert summary["mqtt"]["errors"] == 0
    assert summary["faults"][0]["reconnected_s"] == summary["faults"][0]["end_s"]


def test_a_drop_is_deterministic(tmp_path: Path, early_drop) -> None:
    first, seen_first = early_drop
    second, seen_second = run(ending_after_the_event(drop_scenario(tmp_path, start="14:50")),
                              watch="+")
    assert seen_first == seen_second
    assert first.log.sorted_rows() == second.log.sorted_rows()
    assert first.summary["events"] == second.summary["events"]


def test_connection_drops_are_validated_with_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(drop_scenario(tmp_path, target="home").read_text())
    with pytest.raises(ScenarioError, match=r":\d+: faults\[0\]\.target: is not a fleet group "
                       r"\(homes, solar or all\) \(got \"home\"; did you mean homes\?\)"):
        load_scenario(path)
    path.write_text(OUTAGE.read_text().replace("kind: broker_outage", "kind: connection_drop"))
    with pytest.raises(ScenarioError, match=r":\d+: faults\[0\]\.target: a connection_drop needs"):
        load_scenario(path)
    path.write_text(OUTAGE.read_text().replace(
        "kind: broker_outage", "kind: broker_outage\n    target: homes"))
    with pytest.raises(ScenarioError, match=r":\d+: faults\[0\]\.target: a broker_outage takes"):
        load_scenario(path)


@pytest.fixture(scope="module")
def homes_crash(tmp_path_factory: pytest.TempPathFactory) -> Run:
    """The homes crash 15:30-16:15, every VEN's telemetry watched; shared like `calm`."""
    return run(ending_after_the_event(crash_scenario(tmp_path_factory.mktemp("crash"))),
               watch="+")


def test_a_crashed_group_restarts_fresh_and_the_gap_is_counted(calm, homes_crash) -> None:
    quiet, quiet_seen = calm
    result, seen = homes_crash
    summary = result.summary
    assert summary["faults"] == [{
        "kind": "ven_crash", "start": "2026-07-15T15:30:00Z",
        "end": "2026-07-15T16:15:00Z", "start_s": 55800.0, "end_s": 58500.0,
        "target": "homes", "vens": 12, "reports_missed": 108, "restarted": 12,
        "reconnected_s": 58500.0,
    }]
    assert summary["failed_vens"] == [] and summary["telemetry_replayed"] == 0
    rows, calm_rows = result.log.sorted_rows(), quiet.log.sorted_rows()
    # The solar homes ran on untouched: their rows and wire telemetry equal a calm run's.
    assert [r for r in rows if r.ven_id.startswith("ven-solar-")] == [
        r for r in calm_rows if r.ven_id.startswith("ven-solar-")]
    assert [d for d in seen if d["venId"].startswith("ven-solar-")] == [
        d for d in quiet_seen if d["venId"].startswith("ven-solar-")]
    # The homes reported nothing while down: exactly the gap summary.json counts.
    assert len(calm_rows) - len(rows) == summary["faults"][0]["reports_missed"]
    gap = [r for r in rows if r.ven_id.startswith("ven-homes-") and 55800 < r.t1 <= 58500]
    assert gap == []
    # Back with the same identity: every home reports again to the end of the run (17:00).
    last = {r.ven_id: r.t1 for r in rows}
    assert len(last) == 24 and set(last.values()) == {17 * 3600.0}


def test_a_crash_of_one_ven_is_deterministic_and_resyncs_its_shadow(tmp_path: Path) -> None:
    path = ending_after_the_event(crash_scenario(tmp_path, target="ven-homes-0003"))
    first, _ = run(path)
    second, _ = run(path)
    assert first.summary["faults"][0]["vens"] == 1
    assert first.summary["faults"][0]["reports_missed"] == 9
    assert first.log.sorted_rows() == second.log.sorted_rows()
    assert first.summary["events"] == second.summary["events"]
    fresh = next(v for v in first.vens if v.ven_id == "ven-homes-0003")
    assert fresh.connection is not None and fresh.connection.stats.connects == 1
    assert fresh.connection.stats.published > 0  # its shadow get and its reports after 16:15


def test_ven_crashes_are_validated_with_file_and_line(tmp_path: Path) -> None:
    path = crash_scenario(tmp_path, target="ven-homes-0013")
    with pytest.raises(ScenarioError, match=r":\d+: faults\[0\]\.target: is not a fleet group"):
        load_scenario(path)
    path = drop_scenario(tmp_path, target="ven-homes-0001")  # a drop takes a group
    with pytest.raises(ScenarioError, match=r":\d+: faults\[0\]\.target: is not a fleet group"):
        load_scenario(path)


def test_a_crashed_vens_gap_is_settled_at_its_baseline(homes_crash) -> None:
    """The homes are down 45 min of the 2 h event: those VEN-hours are filled at each home's
    baseline (no credit), so the mean delivered kW is over the whole event."""
    from sim.mv import Settlement, evaluate_event

    result, _ = homes_crash
    [event] = result.summary["events"]
    assert event["gap_filled_ven_hours"] == 12 * 0.75
    for figures in event["baselines"].values():  # every method: kW over all of the 2 h
        if figures["delivered_kwh"] is not None:
            assert figures["delivered_kw"] == pytest.approx(figures["delivered_kwh"] / 2, abs=2e-3)
    # Unfilled, the homes' mean would be over the intervals they reported: credit for time
    # they were down, a higher delivered kW than they earned.
    [window] = result.windows
    unfilled = evaluate_event(window, result.log.sorted_rows(), Settlement(
        window_s=result.scenario.baseline_window_s,
        start_epoch=result.scenario.start.timestamp()), result.windows)
    assert unfilled["delivered_kwh"] == event["delivered_kwh"]
    assert unfilled["delivered_kw"] > event["delivered_kw"]
    assert "gap_filled_ven_hours" not in unfilled


def test_faults_play_on_the_scenarios_day_after_a_warm_up(tmp_path: Path) -> None:
    path = tmp_path / "warm.yaml"
    path.write_text(OUTAGE.read_text().replace("faults:", "mv: {warmup_days: 1}\nfaults:"))
    result, _ = run(ending_after_the_event(path))
    [fault] = result.summary["faults"]
    assert fault["start"] == "2026-07-15T15:30:00Z" and fault["start_s"] == 55800.0
    assert fault["reconnected_s"] == 58500.0
    assert result.summary["telemetry_replayed"] == 24 * 9 * 2  # the same 45 min, not earlier
