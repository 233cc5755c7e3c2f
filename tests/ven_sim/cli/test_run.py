"""`ven-sim` commands through click's CliRunner: thin over the library."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from ven_sim.cli import main

ROOT = Path(__file__).resolve().parents[3]
PEAK = str(ROOT / "scenarios" / "peak_event.yaml")


@pytest.fixture(scope="module")
def peak_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("runs") / "peak"
    result = CliRunner().invoke(main, ["run", PEAK, "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "evt-peak-1" in result.output
    return out


def test_run_writes_summary_timeseries_and_report(peak_run: Path) -> None:
    summary = json.loads((peak_run / "summary.json").read_text())
    for key in ("scenario", "seed", "vens", "simulated_seconds", "wall_seconds", "fleet", "events"):
        assert key in summary
    assert summary["vens"] >= 20
    assert set(summary["fleet"]) >= {"peak_kw", "energy_kwh"}
    (event,) = summary["events"]
    assert set(event) >= {
        "id",
        "start",
        "end",
        "vens",
        "requested_kw",
        "baseline_kw",
        "delivered_kw",
        "delivered_kwh",
        "delivery_ratio",
        "rebound_peak_kw",
        "comfort_violation_minutes",
        "counterfactual_kw",
        "true_delivered_kw",
        "true_delivered_kwh",
        "true_delivery_ratio",
        "ven_estimated_shed_kw",
    }
    with (peak_run / "timeseries.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert {"time", "ven_id", "power_kw", "baseline_kw", "shed_kw", "event_id"} <= set(rows[0])
    assert rows[-1]["counterfactual_kw"] and not rows[0]["counterfactual_kw"]
    # A row per VEN per 5-minute report interval over 24 h.
    assert len(rows) == summary["vens"] * 24 * 12
    assert any(r["event_id"] == "evt-peak-1" for r in rows)
    png = (peak_run / "report.png").read_bytes()
    assert png.startswith(b"\x89PNG") and len(png) > 10_000


def test_peak_event_delivers_what_was_asked(peak_run: Path) -> None:
    # Measured against the exact counterfactual, not the settlement baseline.
    (event,) = json.loads((peak_run / "summary.json").read_text())["events"]
    assert 0.8 <= event["true_delivery_ratio"] <= 1.2
    assert event["true_delivered_kwh"] > 0


def test_same_seed_gives_identical_summary(peak_run: Path, tmp_path: Path) -> None:
    again = tmp_path / "again"
    result = CliRunner().invoke(main, ["run", PEAK, "--out", str(again)])
    assert result.exit_code == 0, result.output
    first = json.loads((peak_run / "summary.json").read_text())
    second = json.loads((again / "summary.json").read_text())
    first.pop("wall_seconds")
    second.pop("wall_seconds")
    assert first == second
    assert (peak_run / "timeseries.csv").read_bytes() == (again / "timeseries.csv").read_bytes()


def test_other_seed_and_fleet_size_overrides(tmp_path: Path) -> None:
    out = tmp_path / "small"
    result = CliRunner().invoke(
        main, ["run", PEAK, "--out", str(out), "--seed", "7", "--vens", "5", "--speed", "max"]
    )
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["seed"] == 7 and summary["vens"] == 5


BAD_SCENARIOS = {
    "wrong_type": ("seed: forty-two", "seed"),
    "unknown_key": ("colour: blue", "colour"),
    "negative_duration": ("duration: -3600", "duration"),
}


@pytest.mark.parametrize("case", sorted(BAD_SCENARIOS))
def test_bad_scenario_fails_with_one_line_and_writes_nothing(case: str, tmp_path: Path) -> None:
    line, field = BAD_SCENARIOS[case]
    text = Path(PEAK).read_text()
    key = line.split(":")[0]
    lines = [ln for ln in text.splitlines() if not ln.startswith(f"{key}:")]
    lines.insert(3, line)
    bad = tmp_path / f"{case}.yaml"
    bad.write_text("\n".join(lines) + "\n")
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["run", str(bad), "--out", str(out)])
    assert result.exit_code != 0
    message = result.output.strip()
    assert message.count("\n") == 0, message
    assert f"{bad}:4: {field}" in message
    assert not out.exists()


def test_event_outside_the_window_names_the_event(tmp_path: Path) -> None:
    text = Path(PEAK).read_text().replace('start: "15:00"', 'start: "23:00"')
    bad = tmp_path / "late.yaml"
    bad.write_text(text)
    result = CliRunner().invoke(main, ["validate", str(bad)])
    assert result.exit_code != 0
    assert "events[0]" in result.output and str(bad) in result.output


def test_validate_accepts_every_shipped_scenario() -> None:
    for path in sorted((ROOT / "scenarios").glob("*.yaml")):
        if path.name.startswith("fleet_"):
            continue  # a load test for `ven-sim fleet` (tests/sim/test_fleet_scenario.py)
        result = CliRunner().invoke(main, ["validate", str(path)])
        assert result.exit_code == 0, result.output
        assert "ok" in result.output


def test_validate_warns_on_a_probable_unit_mistake_and_still_accepts(tmp_path: Path) -> None:
    odd = tmp_path / "odd.yaml"
    odd.write_text(Path(PEAK).read_text().replace("requested_kw: 30", "requested_kw: 30000"))
    result = CliRunner().invoke(main, ["validate", str(odd)])
    assert result.exit_code == 0, result.output
    line = odd.read_text().splitlines().index("    requested_kw: 30000") + 1
    assert f"warning: {odd}:{line}: events[0].requested_kw: 30000 kW is more than" in (
        result.stderr)
    assert "ok (24 VENs" in result.stdout


def test_run_refuses_a_non_empty_output_folder(tmp_path: Path) -> None:
    (tmp_path / "keep.txt").write_text("mine")
    result = CliRunner().invoke(main, ["run", PEAK, "--out", str(tmp_path)])
    assert result.exit_code != 0
    assert (tmp_path / "keep.txt").read_text() == "mine"


def test_bad_speed_is_a_usage_error() -> None:
    result = CliRunner().invoke(main, ["run", PEAK, "--speed", "fast"])
    assert result.exit_code == 2
    assert "speed" in result.output


def test_validate_takes_several_files_and_counts_in_words(tmp_path: Path) -> None:
    heat = str(ROOT / "scenarios" / "heat_wave.yaml")
    result = CliRunner().invoke(main, ["validate", PEAK, heat])
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 2
    assert lines[0].startswith(f"{PEAK}: ok (24 VENs, 1 event, 24 h)")
    assert lines[1].startswith(f"{heat}: ok")


def test_validate_reports_each_bad_file_and_fails(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(Path(PEAK).read_text().replace("seed: 42", "seed: forty-two"))
    result = CliRunner().invoke(main, ["validate", str(bad), PEAK])
    assert result.exit_code == 1
    assert f"Error: {bad}:" in result.stderr
    assert f"{PEAK}: ok" in result.stdout


def test_progress_lines_when_not_on_a_terminal(tmp_path: Path) -> None:
    # CliRunner's stderr is no terminal: a log file gets plain progress lines, no bar.
    result = CliRunner().invoke(main, ["run", PEAK, "--vens", "2", "--out", str(tmp_path / "o")])
    assert result.exit_code == 0, result.output
    assert "progress: 24.0 of 24 simulated h (100%)" in result.stderr
    assert "\r" not in result.stderr


def test_force_replaces_an_earlier_run_only(tmp_path: Path) -> None:
    out = tmp_path / "out"
    args = ["run", PEAK, "--vens", "2", "--out", str(out)]
    assert CliRunner().invoke(main, args).exit_code == 0
    first = (out / "summary.json").read_text()
    refused = CliRunner().invoke(main, args)
    assert refused.exit_code == 1 and "--force" in refused.output
    again = CliRunner().invoke(main, [*args, "--seed", "7", "--force"])
    assert again.exit_code == 0, again.output
    assert (out / "summary.json").read_text() != first
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # nothing left aside
    (out / "notes.txt").write_text("mine")
    kept = CliRunner().invoke(main, [*args, "--force"])
    assert kept.exit_code == 1 and "notes.txt" in kept.output
    assert (out / "notes.txt").read_text() == "mine"


def test_a_paced_run_that_falls_behind_warns_and_says_so(tmp_path: Path) -> None:
    # 24 simulated hours in under 10 ms of wall time: no machine keeps up with that.
    out = tmp_path / "fast"
    result = CliRunner().invoke(
        main, ["run", PEAK, "--vens", "2", "--speed", "1e7", "--broker", "inprocess",
               "--out", str(out)],
    )
    assert result.exit_code == 0, result.output
    assert "Warning: the run could not keep up with --speed 1e+07" in result.stderr
    pacing = json.loads((out / "summary.json").read_text())["pacing"]
    assert pacing["kept_up"] is False and "lower --speed" in pacing["warning"]
