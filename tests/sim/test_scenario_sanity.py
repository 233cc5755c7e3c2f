from pathlib import Path

import pytest

from sim.scenario_loader import load_scenario

PEAK = Path(__file__).resolve().parents[2] / "scenarios" / "peak_event.yaml"


def load_with(tmp_path: Path, old: str, new: str):
    text = PEAK.read_text()
    assert old in text
    path = tmp_path / "odd.yaml"
    path.write_text(text.replace(old, new))
    return load_scenario(path), path


def line_of(path: Path, needle: str) -> int:
    lines = path.read_text().splitlines()
    return next(i for i, line in enumerate(lines, 1) if line.strip().startswith(needle)
                and line.strip()[len(needle):] in ("", "}"))


def test_shipped_scenarios_raise_no_warnings():
    for scenario in sorted(PEAK.parent.glob("*.yaml")):
        if scenario.name.startswith("fleet_"):
            continue  # a load test for `ven-sim fleet` (tests/sim/test_fleet_scenario.py)
        assert load_scenario(scenario).warnings == (), scenario


@pytest.mark.parametrize(
    ("old", "new", "field", "words"),
    [
        ("requested_kw: 30", "requested_kw: 30000", "events[0].requested_kw",
         "30000 kW is more than all 24 targeted panels can carry (1152 kW): watts typed as kW?"),
        ("  max_c: 36", "  max_c: 97", "weather.max_c",
         "97 C is outside -40..55 C: a temperature in Fahrenheit?"),
        ("hvac_setpoint_c: {min: 22.5, max: 24.5}", "hvac_setpoint_c: {min: 72, max: 76}",
         "fleet[0].params.hvac_setpoint_c", "72 C is outside -40..55 C"),
        ("    duration: 2h", "    duration: 2", "events[0].duration",
         "2 without a unit is 2 seconds: write 2h or 2m"),
    ],
)
def test_probable_unit_mistakes_warn_with_file_and_line(tmp_path, old, new, field, words):
    scenario, path = load_with(tmp_path, old, new)
    assert len(scenario.warnings) == 1
    warning = scenario.warnings[0]
    assert warning.startswith(f"{path}:{line_of(path, new.strip())}: {field}: ")
    assert words in warning


def test_per_ven_request_above_a_panel_warns(tmp_path):
    scenario, path = load_with(tmp_path, "requested_kw: 30", "per_ven_kw: 1500")
    assert scenario.warnings == (
        f"{path}:{line_of(path, 'per_ven_kw: 1500')}: events[0].per_ven_kw: 1500 kW per VEN is "
        "more than a whole panel carries (48 kW): watts typed as kW?",
    )
