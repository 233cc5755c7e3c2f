"""A poisoned VEN inside a 50-VEN wire run: the run completes, the other 49 are untouched.

The poison is a message no transport should ever hand in (a Python object instead of
bytes), told to one VEN's gateway through the real in-process bus each time that VEN
reports after its event ack, so its gateway raises on every one.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from sim.limits import ACTOR_MAX_RESTARTS
from sim.scenario_loader import load_scenario
from ven_sim.output import write_outputs
from ven_sim.runner import RunResult, run_scenario
from ven_sim.wire import open_wire

FLEET = """\
name: poisoned
seed: 11
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
    count: 50
events:
  - id: evt-poison
    start: "+1h"
    duration: 1h
    per_ven_kw: 1.0
    target: all
"""
VICTIM = "ven-homes-0007"


def run(tmp_path: Path, poisons: int) -> RunResult:
    path = tmp_path / "fleet.yaml"
    path.write_text(FLEET)
    wire = open_wire("inprocess")
    sent = {"acked": False, "poisons": 0}

    def saboteur(topic: str, payload: Any) -> None:
        if topic.startswith("ven/ack/"):
            sent["acked"] = True
        elif sent["acked"] and sent["poisons"] < poisons:
            sent["poisons"] += 1
            wire.transport.bus.publish(f"ven/cmd/{VICTIM}", object())

    conn = wire.transport.open("saboteur", saboteur)
    conn.subscribe(f"ven/ack/{VICTIM}")
    conn.subscribe(f"ven/telemetry/{VICTIM}")
    try:
        result = run_scenario(load_scenario(path), wire=wire)
    finally:
        conn.close()
        wire.close()
    # An isolated VEN reports no more, so the saboteur runs out of chances to poison it.
    assert sent["poisons"] == min(poisons, ACTOR_MAX_RESTARTS + 1)
    return result


def rows_by_ven(result: RunResult) -> dict[str, list]:
    by: dict[str, list] = {}
    for row in result.log.sorted_rows():
        by.setdefault(row.ven_id, []).append(row)
    return by


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory) -> RunResult:
    return run(tmp_path_factory.mktemp("clean"), 0)


def test_a_ven_restarted_a_few_times_loses_nothing(tmp_path: Path, clean: RunResult) -> None:
    result = run(tmp_path, 3)
    assert result.summary["actor_restarts"] == 3 and result.summary["failed_vens"] == []
    assert rows_by_ven(result) == rows_by_ven(clean)  # the victim's telemetry too
    assert clean.summary["actor_restarts"] == 0


def test_a_ven_that_keeps_failing_is_isolated_and_49_run_on(
        tmp_path: Path, clean: RunResult) -> None:
    result = run(tmp_path, ACTOR_MAX_RESTARTS + 5)
    summary = result.summary
    assert summary["actor_restarts"] == ACTOR_MAX_RESTARTS + 1  # then nothing is handled
    assert summary["failed_vens"] == [VICTIM]
    mine, theirs = rows_by_ven(result), rows_by_ven(clean)
    assert len(mine) == 50
    for ven_id, rows in theirs.items():
        if ven_id != VICTIM:
            assert mine[ven_id] == rows, ven_id
    assert len(mine[VICTIM]) < len(theirs[VICTIM])  # isolated: it stopped reporting
    write_outputs(tmp_path / "out", summary, result.log.sorted_rows(),
                  result.scenario.start.timestamp())
    written = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert written["failed_vens"] == [VICTIM] and written["vens"] == 50
