"""Fleet scenario files: the shipped one parses, and mistakes are `file:line: field` errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from sim.fleet_scenario import FleetEvent, load_fleet_scenario
from sim.scenario import ScenarioError

FLEET_10K = Path(__file__).resolve().parents[2] / "scenarios" / "fleet_10k.yaml"

SMALL = """\
name: small
fleet:
  vens: 40
  ramp: 20
  duration: 2m
  telemetry_interval: 2s
events:
  - at: connected
    kw: 0.5
    duration: 5m
  - at: +90s
    kw: 1
    duration: 1m
"""


def test_the_shipped_10k_fleet() -> None:
    scenario = load_fleet_scenario(FLEET_10K)
    assert (scenario.vens, scenario.id_prefix, scenario.id_start) == (10_000, "ven-load", 0)
    assert (scenario.ramp_per_s, scenario.duration_s, scenario.telemetry_interval_s) == (
        250.0, 600.0, 5.0)
    assert scenario.events == (FleetEvent("fleet-event-1", None, 0.5, 180.0),
                               FleetEvent("fleet-event-2", 360.0, 1.0, 120.0))


def test_defaults_and_event_ids(tmp_path: Path) -> None:
    path = tmp_path / "small.yaml"
    path.write_text(SMALL)
    scenario = load_fleet_scenario(path)
    assert (scenario.id_prefix, scenario.probe_rate, scenario.duration_s) == (
        "ven-load", 2.0, 120.0)
    assert [e.id for e in scenario.events] == ["fleet-event-1", "fleet-event-2"]
    assert [e.at_s for e in scenario.events] == [None, 90.0]
    assert scenario.lines["fleet.ramp"] == 4
    assert scenario.vens_per_cert == 1  # a certificate per VEN unless the file says
    path.write_text(SMALL.replace("  ramp: 20", "  ramp: 20\n  vens_per_cert: 10"))
    assert load_fleet_scenario(path).vens_per_cert == 10


@pytest.mark.parametrize(
    ("old", "new", "line", "message"),
    [
        ("  ramp: 20", "  rmap: 20", 4, "fleet.rmap: unknown key; did you mean 'ramp'?"),
        ("  vens: 40", "  vens: -3", 3, "fleet.vens: must be a whole number >= 1 (got -3)"),
        ("  vens: 40", "  vens: 4.5", 3, "fleet.vens: must be a whole number >= 1 (got 4.5)"),
        ("  ramp: 20", "  ramp: fast", 4, 'fleet.ramp: must be a positive number (got "fast")'),
        ("  duration: 2m", "  duration: soon", 5, "fleet.duration:"),
        ("  - at: +90s", "  - at: +3m", 11,
         "events[1].at: must fall inside the run's 120 s (got \"+3m\")"),
        ("  - at: +90s", "  - at: later", 11,
         'events[1].at: must be "connected" or an offset from the first connect'),
        ("    kw: 1\n", "    kwh: 1\n", 12, "events[1].kwh: unknown key; did you mean 'kw'?"),
        ("    kw: 1\n", "", 11, "events[1].kw: missing"),
        ("name: small", "name: small\nseed: 3", 2, "seed: unknown key"),
        ("  ramp: 20", "  ramp: 20\n  vens_per_cert: 0", 5,
         "fleet.vens_per_cert: must be a whole number >= 1 (got 0)"),
        ("  ramp: 20", "  ramp: 20\n  vens_per_cert: ten", 5,
         'fleet.vens_per_cert: must be a whole number >= 1 (got "ten")'),
    ],
)
def test_mistakes_name_their_file_and_line(
    tmp_path: Path, old: str, new: str, line: int, message: str
) -> None:
    assert old in SMALL
    path = tmp_path / "bad.yaml"
    path.write_text(SMALL.replace(old, new, 1))
    with pytest.raises(ScenarioError) as caught:
        load_fleet_scenario(path)
    assert str(caught.value).startswith(f"{path}:{line}: {message}")


def test_a_file_without_a_fleet_or_not_yaml(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("name: x\n")
    with pytest.raises(ScenarioError, match=r"bad.yaml:1: fleet: missing"):
        load_fleet_scenario(path)
    path.write_text("fleet: [1, 2\n")
    with pytest.raises(ScenarioError, match=r"bad.yaml:2: not valid YAML"):
        load_fleet_scenario(path)
    with pytest.raises(ScenarioError, match="cannot read scenario file"):
        load_fleet_scenario(tmp_path / "missing.yaml")
