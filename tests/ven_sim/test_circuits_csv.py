"""circuits.csv: `ven-sim run --circuits` against the VENs' own telemetry."""

from __future__ import annotations

import csv
from collections import defaultdict
from pathlib import Path

import pytest
from click.testing import CliRunner

from ven_sim.circuits_csv import CIRCUIT_COLUMNS
from ven_sim.cli import main

ROOT = Path(__file__).resolve().parents[2]


def test_run_with_circuits_writes_a_row_per_circuit_that_adds_up(tmp_path: Path) -> None:
    out = tmp_path / "run"
    args = ["run", str(ROOT / "scenarios" / "peak_event.yaml"), "--vens", "6", "--circuits",
            "--out", str(out)]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert "circuits.csv" in result.output
    with (out / "circuits.csv").open() as f:
        rows = list(csv.DictReader(f))
    with (out / "timeseries.csv").open() as f:
        ven_rows = list(csv.DictReader(f))
    assert tuple(rows[0]) == CIRCUIT_COLUMNS
    # Each VEN's circuits add up to the power it reported for the interval.
    total: dict[tuple[str, str], float] = defaultdict(float)
    for r in rows:
        total[(r["t_seconds"], r["ven_id"])] += float(r["power_kw"])
    assert len(total) == len(ven_rows) == 6 * 288
    for r in ven_rows:
        assert abs(total[(r["t_seconds"], r["ven_id"])] - float(r["power_kw"])) < 1e-3
    # State columns where the circuit has that state, blank elsewhere.
    for r in rows:
        assert (r["indoor_c"] != "") == (r["type"] == "HVAC"), r
        assert (r["tank_c"] != "") == (r["type"] == "Water Heater"), r
        assert r["soc"] == "" or r["type"] in ("Battery", "EV Charger"), r
        assert (r["soc"] != "") or r["type"] != "Battery", r
        if r["type"] == "HVAC":
            assert 15.0 < float(r["indoor_c"]) < 30.0
    assert {r["type"] for r in rows} >= {"HVAC", "Water Heater", "Battery", "Solar PV"}
    assert [r["time"] for r in rows[:2]] == ["2026-07-15T00:05:00Z"] * 2


def test_without_the_flag_there_is_no_circuits_file(tmp_path: Path) -> None:
    out = tmp_path / "run"
    args = ["run", str(ROOT / "scenarios" / "peak_event.yaml"), "--vens", "3", "--out", str(out)]
    assert CliRunner().invoke(main, args).exit_code == 0
    assert not (out / "circuits.csv").exists()


def test_winter_morning_holds_the_setpoint_and_the_event_lowers_it_within_the_band() -> None:
    """scenarios/winter_morning.yaml through the runner, read back from the circuit rows."""
    import dataclasses
    import random

    from sim.scenario import sample_params, ven_ids
    from sim.scenario_loader import load_scenario
    from ven_sim.runner import run_scenario

    scenario = load_scenario(ROOT / "scenarios" / "winter_morning.yaml")
    setpoint = {}
    for ven_id, group in ven_ids(scenario):
        params = sample_params(group.params, random.Random(f"{scenario.seed}:{ven_id}"))
        setpoint[ven_id] = params["heating_setpoint_c"]

    def deviations(run_of) -> dict[str, list[tuple[float, float]]]:
        out: dict[str, list[tuple[float, float]]] = defaultdict(list)
        for r in run_of.log.circuit_rows:
            if r.circuit_id == "hvac1" and r.t1 > 3600.0:  # after the first hour
                out[r.ven_id].append((r.t1, r.indoor_c - setpoint[r.ven_id]))
        return out

    quiet = deviations(run_scenario(dataclasses.replace(scenario, events=()), circuits=True))
    assert len(quiet) == 24
    assert all(-1.0 <= d <= 1.0 for rows in quiet.values() for _, d in rows)

    evented = run_scenario(scenario, circuits=True)
    (event,) = evented.summary["events"]
    # Against the truth (the settled ratio overstates a winter morning's falling load: 1.5).
    assert 0.7 <= event["true_delivery_ratio"] <= 1.3
    during = [d for v, rows in deviations(evented).items() if "heatpump" in v
              for t, d in rows if 7 * 3600 < t <= 9 * 3600]
    # Setpoints lowered by up to the 2 C comfort band (plus the 0.5 C deadband), no further.
    assert min(during) < -1.0 and min(during) >= -2.5


EV_EVENING = """\
name: ev_evening
fleet: [{name: homes, template: house, count: 4, params: {has_ev: true, ev_charger_kw: 7.2}}]
events: [{id: evt-ev, start: "18:00", duration: 4h, per_ven_kw: 10}]
weather: {min_c: 22, max_c: 34, peak_hour: 15}
seed: 5
start: 2026-07-15T12:00:00Z
duration: 24h
report_interval: 15m
"""


def test_ev_soc_rises_while_charging_and_the_car_is_full_at_departure(tmp_path: Path) -> None:
    """Managed charging through the VENs: paused in the 18:00-22:00 event, full by departure."""
    scenario, out = tmp_path / "ev.yaml", tmp_path / "run"
    scenario.write_text(EV_EVENING)
    result = CliRunner().invoke(main, ["run", str(scenario), "--circuits", "--out", str(out)])
    assert result.exit_code == 0, result.output
    with (out / "circuits.csv").open() as f:
        rows = [r for r in csv.DictReader(f) if r["circuit_id"] == "ev1"]
    by_ven: dict[str, list[dict[str, str]]] = defaultdict(list)
    for r in rows:
        by_ven[r["ven_id"]].append(r)
    assert len(by_ven) == 4
    for ven, series in by_ven.items():
        plugged = [i for i, r in enumerate(series) if r["soc"] != ""]
        assert plugged, ven
        first, last = plugged[0], plugged[-1]
        # Blank before the car arrives and after it leaves, a number in between.
        assert plugged == list(range(first, last + 1)), ven
        assert last < len(series) - 1 and series[last + 1]["soc"] == ""
        assert all(float(r["power_kw"]) == 0.0 for r in series[last + 1:])
        for before, now in zip(series[first:last], series[first + 1:last + 1], strict=True):
            # 60 kWh car, 15-minute intervals: the soc rises by the interval's energy.
            gained = float(now["power_kw"]) * 0.25 / 60.0
            assert float(now["soc"]) - float(before["soc"]) == pytest.approx(gained, abs=2e-4)
        event = [r for r in series[first + 1:last + 1]
                 if "2026-07-15T18:15" <= r["time"] <= "2026-07-15T22:00"]
        assert event and all(float(r["power_kw"]) == 0.0 for r in event), ven  # paused
        assert float(series[last]["soc"]) == pytest.approx(0.9), ven  # full by departure
