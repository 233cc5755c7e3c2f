"""`ven-sim fleet FILE.yaml` and `--fanout-at` against mosquitto with mTLS."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from ven_sim.broker.mosquitto import Mosquitto
from ven_sim.cli import main
from ven_sim.fleet.histogram import Histogram

VENS = 30

SCENARIO = f"""\
name: small_fleet
fleet:
  vens: {VENS}
  id_prefix: ven-scen
  ramp: 30
  duration: 9s
  telemetry_interval: 1s
  probe_rate: 0
events:
  - at: connected
    kw: 0.5
    duration: 5m
  - id: second
    at: +5s
    kw: 1.0
    duration: 1m
"""


def broker_options(mosquitto: Mosquitto) -> list[str]:
    return ["--broker", mosquitto.url, "--local-ca", str(mosquitto.folder / "certs")]


def test_a_scenario_file_runs_its_fleet_and_events(mosquitto: Mosquitto, tmp_path: Path) -> None:
    path = tmp_path / "small_fleet.yaml"
    path.write_text(SCENARIO)
    out = tmp_path / "run"
    result = CliRunner().invoke(main, ["fleet", str(path), *broker_options(mosquitto),
                                       "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "fleet: 30 VENs in 1 shard(s)" in result.output
    assert "fan-out 60 events + acks" in result.output
    results = json.loads((out / "fleet.json").read_text())
    ids = sorted(cid for cid, _, _ in results["connects"])
    assert ids == [f"ven-scen-{i:06d}" for i in range(VENS)]
    # Two events, each to every VEN (all were up by the second one, 5 s after the first
    # connect, with the ramp over in 1 s), each ack timed from its own dispatch.
    assert results["fanout"] == {**results["fanout"], "vens": 2 * VENS, "acked": 2 * VENS,
                                 "errors": 0}
    assert Histogram.from_dict(results["histograms"]["fanout"]).count == 2 * VENS
    # Timed from the first dispatch, the second event's acks would take 4 s or more.
    assert results["fanout"]["ms"]["max"] < 3000
    assert results["pings_sent"] == 0 and 8 <= results["duration_s"] < 15


def test_fanout_at_dispatches_to_the_vens_up_by_then(mosquitto: Mosquitto, tmp_path: Path) -> None:
    out = tmp_path / "early"
    result = CliRunner().invoke(main, [
        "fleet", "--vens", str(VENS), "--ramp", "10", "--duration", "6", "--fanout-at", "2",
        "--id-prefix", "ven-early", *broker_options(mosquitto), "--out", str(out),
    ])
    assert result.exit_code == 0, result.output
    results = json.loads((out / "fleet.json").read_text())
    # At 10 connects/s, two seconds in: about 20 of the 30 are up; the rest get no event.
    fanout = results["fanout"]
    assert 0 < fanout["vens"] < VENS and fanout["acked"] == fanout["vens"]
    assert results["vens_connected"] == VENS


def test_scenario_errors_and_conflicts_are_clear(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(SCENARIO.replace("  ramp: 30", "  ramp: 0"))
    result = CliRunner().invoke(main, ["fleet", str(path)])
    assert result.exit_code == 1
    assert f"{path}:5: fleet.ramp: must be a positive number (got 0)" in result.output
    path.write_text(SCENARIO)
    result = CliRunner().invoke(main, ["fleet", str(path), "--vens", "10"])
    assert result.exit_code == 2 and "--vens: the scenario file sets these" in result.output
    result = CliRunner().invoke(main, ["fleet", str(path), "--fanout-at", "3"])
    assert result.exit_code == 2 and "the scenario file's events say when" in result.output
    path.write_text(SCENARIO.replace("id_prefix: ven-scen", "id_prefix: ven/scen"))
    result = CliRunner().invoke(main, ["fleet", str(path)])
    assert result.exit_code == 1
    assert f"{path}:4: fleet.id_prefix: id prefix must be 1-100 of" in result.output
