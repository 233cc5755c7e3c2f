"""`ven-sim bench event-path`: what its figures are made of (no timing is asserted)."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from ven_sim.bench.event_path import PHASES, THIS_TREE, bench_event_path, measure
from ven_sim.cli import main


def test_every_ven_acks_its_event_and_its_restore_and_the_wire_is_the_same_each_run() -> None:
    first, second = measure(12), measure(12)
    assert first["acks"] == second["acks"] == 2 * 12
    assert first["published_sha256"] == second["published_sha256"]
    # The command, the event's start, its ack to the gateway and the shadow syncer, the
    # report's flush, and a Curtail to each circuit the plan sheds on (at least one).
    assert first["event_messages"] > 5
    # The command, the end, its news to the gateway and the syncer, the report's flush.
    assert first["restore_messages"] == 5
    assert first["event_replies_messages"] == first["restore_replies_messages"] == 1
    assert all(first[phase] > 0 for phase in PHASES)
    # A steady tick: an Advance to each circuit, its round and the controller's telemetry to
    # the gateway and the syncer, plus each VEN's periodic shadow report once in six ticks.
    assert first["steady_tick_us"] > 0
    assert first["steady_tick_messages"] > 3


def test_against_a_tree_runs_both_alternately_with_medians_of_each() -> None:
    result = bench_event_path(vens=6, repeat=2, against=str(THIS_TREE))
    this, against = result["this"], result["against"]
    assert len(this["repeats"]) == len(against["repeats"]) == 2
    assert this["published_sha256"] == against["published_sha256"]  # one tree: one wire
    assert this["acks"] == against["acks"] == 12
    assert this["total_us"] == round(sum(this[phase] for phase in PHASES), 1)
    assert result["ratio_total"] > 0 and result["ratio_steady"] > 0
    assert "steady_tick_us" in this and "steady_tick_us" not in PHASES


def test_against_a_folder_that_is_not_a_source_tree_is_refused(tmp_path: Path) -> None:
    # Its run would import the installed packages: this tree measured against itself.
    result = CliRunner().invoke(main, ["bench", "event-path", "--vens", "2", "--repeat", "1",
                                      "--against", str(tmp_path)])
    assert result.exit_code == 1
    assert f"{tmp_path} is not a ven-sim source tree" in result.output
