"""Scenario files: shipped scenarios, parsing helpers, overrides, weather and error messages."""

from __future__ import annotations

import json
import pickle
import random
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from sim.scenario import (
    DURATION_RE,
    Scenario,
    ScenarioError,
    format_duration,
    parse_duration,
    parse_speed,
    sample_params,
    ven_ids,
)
from sim.scenario_loader import load_scenario
from sim.world import Weather

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = ROOT / "scenarios"
SCHEMA = ROOT / "sim" / "schema" / "scenario.schema.json"

# Line numbers below refer to this text; keep it in step with BAD_CASES.
BASE = """\
name: t
seed: 1
start: 2026-07-15T00:00:00Z
duration: 24h
report_interval: 5m
physics_step: 60s
weather:
  min_c: 20
  max_c: 30
fleet:
  - name: homes
    template: house
    count: 4
    params:
      hvac_kw: {min: 3, max: 5}
events:
  - id: e1
    start: "16:00"
    duration: 2h
    requested_kw: 6
    target: all
"""


def write(tmp_path: Path, text: str, name: str = "s.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def load_text(tmp_path: Path, text: str) -> Scenario:
    return load_scenario(write(tmp_path, text))


# --- shipped scenarios ---------------------------------------------------------------------


def test_peak_event() -> None:
    s = load_scenario(SCENARIOS / "peak_event.yaml")
    assert s.name == "peak_event" and s.ven_count == 24
    assert len({g.template for g in s.fleet}) >= 2
    assert s.start == datetime(2026, 7, 15, tzinfo=UTC) and s.duration_s == 86400
    assert (s.speed, s.report_interval_s, s.physics_step_s, s.baseline_window_s) == (
        "max", 300, 60, 7200,
    )
    assert (s.weather.min_c, s.weather.max_c, s.weather.peak_hour) == (22, 36, 15)
    (event,) = s.events
    assert (event.start_s, event.end_s, event.target) == (15 * 3600, 17 * 3600, "all")
    assert event.requested_kw == pytest.approx(1.25 * s.ven_count) and event.per_ven_kw is None


def test_heat_wave() -> None:
    s = load_scenario(SCENARIOS / "heat_wave.yaml")
    assert s.duration_s == 3 * 86400 and s.ven_count == 40
    assert s.weather.points and s.weather.points[-1][0] > 24
    assert len({int(e.start_s // 86400) for e in s.events}) >= 2
    assert any(e.per_ven_kw is not None for e in s.events)
    assert any(e.target in {g.name for g in s.fleet} for e in s.events)


def test_thousand_vens() -> None:
    s = load_scenario(SCENARIOS / "thousand_vens.yaml")
    assert s.ven_count == 1000 and len(ven_ids(s)) == 1000
    assert {g.template for g in s.fleet} == {"house", "apartment", "solar_home"}
    assert len(s.events) == 1 and s.duration_s == 86400


def test_schema_is_valid_and_matches_duration_regex() -> None:
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    assert schema["$defs"]["duration"]["anyOf"][1]["pattern"] == DURATION_RE.pattern


def test_schema_names_every_template_and_parameter_the_models_know() -> None:
    # The schema repeats the models' names (a JSON file cannot import them): keep them equal.
    from sim.models.house import TEMPLATE_PARAMS, TEMPLATES

    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    assert set(schema["$defs"]["group"]["properties"]["template"]["enum"]) == set(TEMPLATES)
    assert set(schema["$defs"]["params"]["properties"]) == set(TEMPLATE_PARAMS)


def test_defaults_and_ven_ids(tmp_path: Path) -> None:
    text = BASE.replace("report_interval: 5m\nphysics_step: 60s\n", "")
    text = text.replace("    count: 4\n", "    count: 4\n    id_prefix: h\n")
    s = load_text(tmp_path, text)
    assert (s.seed, s.speed, s.report_interval_s, s.physics_step_s) == (1, "max", 300, 60)
    assert s.baseline_window_s == 7200 and s.source == str(tmp_path / "s.yaml")
    assert [vid for vid, _ in ven_ids(s)] == ["h-0001", "h-0002", "h-0003", "h-0004"]


def test_event_start_forms(tmp_path: Path) -> None:
    text = BASE.replace("start: 2026-07-15T00:00:00Z", "start: 2026-07-15T00:00:00+02:00")
    text = text.replace("duration: 24h", "duration: 2d")
    for written, offset in [
        ('"16:00"', 16 * 3600),  # wall clock on the start date, in the start's zone
        ("+1h30m", 5400),
        ("2026-07-15T16:00:00+02:00", 16 * 3600),
        ("2026-07-15T16:00:00", 18 * 3600),  # naive means UTC
    ]:
        s = load_text(tmp_path, text.replace('start: "16:00"', f"start: {written}"))
        assert s.events[0].start_s == offset, written
    assert s.start.utcoffset() == timedelta(hours=2)


def test_naive_start_is_utc(tmp_path: Path) -> None:
    s = load_text(tmp_path, BASE.replace("2026-07-15T00:00:00Z", "2026-07-15 06:00"))
    assert s.start == datetime(2026, 7, 15, 6, tzinfo=UTC)
    assert s.events[0].start_s == 10 * 3600


def test_per_ven_zero_is_set_not_missing(tmp_path: Path) -> None:
    s = load_text(tmp_path, BASE.replace("requested_kw: 6", "per_ven_kw: 0"))
    assert (s.events[0].requested_kw, s.events[0].per_ven_kw) == (None, 0.0)


# --- parsing helpers -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "seconds"),
    [(90, 90), (2.5, 2.5), ("90s", 90), ("45m", 2700), ("2h", 7200), ("1d", 86400),
     ("1h30m", 5400), ("1.5h", 5400), ("1d2h3m4s", 93784), ("7200", 7200)],
)
def test_parse_duration(value: str | float, seconds: float) -> None:
    assert parse_duration(value) == seconds


@pytest.mark.parametrize(
    "value", ["", "2x", "h", "-2h", "1m1h", "1h 30m", "2 h", True, None, 0, -5, "0s", float("inf")]
)
def test_parse_duration_rejects(value: object) -> None:
    with pytest.raises(ValueError):
        parse_duration(value)  # type: ignore[arg-type]


def test_format_duration() -> None:
    assert [format_duration(s) for s in (0, 90, 5400, 86400, 90.5)] == [
        "0s", "1m30s", "1h30m", "24h", "1m30.5s",
    ]


@pytest.mark.parametrize(("text", "speed"), [("max", "max"), (" MAX ", "max"), ("60", 60.0),
                                             ("0.5", 0.5), ("1", 1.0)])
def test_parse_speed(text: str, speed: str | float) -> None:
    assert parse_speed(text) == speed


@pytest.mark.parametrize("text", ["0", "-1", "fast", "", "inf", "nan"])
def test_parse_speed_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="speed must be max or a positive number"):
        parse_speed(text)


# --- overrides -----------------------------------------------------------------------------


def test_with_overrides_seed_and_speed() -> None:
    s = load_scenario(SCENARIOS / "peak_event.yaml")
    changed = s.with_overrides(seed=99, speed="60")
    assert (changed.seed, changed.speed) == (99, 60.0)
    assert (s.seed, s.speed) == (42, "max")  # the original is untouched
    assert s.with_overrides(speed=2).speed == 2.0
    assert s.with_overrides() == s
    with pytest.raises(ValueError):
        s.with_overrides(speed="0")


def test_with_overrides_vens_scales_exactly() -> None:
    s = load_scenario(SCENARIOS / "peak_event.yaml")  # 16 houses + 8 solar homes
    big = s.with_overrides(vens=1000)
    assert [g.count for g in big.fleet] == [667, 333] and big.ven_count == 1000
    assert big.events[0].requested_kw == pytest.approx(30 * 1000 / 24)  # same kW per VEN
    assert [g.count for g in s.with_overrides(vens=1).fleet] == [1, 0]
    for n in range(2, 60):
        counts = [g.count for g in s.with_overrides(vens=n).fleet]
        assert sum(counts) == n and min(counts) >= 1
    assert s.with_overrides(vens=37) == s.with_overrides(vens=37)
    with pytest.raises(ValueError):
        s.with_overrides(vens=0)


def test_with_overrides_vens_keeps_every_group() -> None:
    s = load_scenario(SCENARIOS / "thousand_vens.yaml")  # 600 / 250 / 150
    assert [g.count for g in s.with_overrides(vens=3).fleet] == [1, 1, 1]
    assert [g.count for g in s.with_overrides(vens=4).fleet] == [2, 1, 1]
    assert [g.count for g in s.with_overrides(vens=10).fleet] == [6, 3, 1]


def test_with_overrides_per_ven_and_group_events() -> None:
    s = load_scenario(SCENARIOS / "heat_wave.yaml")
    scaled = s.with_overrides(vens=80)
    assert scaled.ven_count == 80
    for before, after in zip(s.events, scaled.events, strict=True):
        assert after.per_ven_kw == before.per_ven_kw
        if before.requested_kw is not None:
            assert after.requested_kw == pytest.approx(before.requested_kw * 2)


# --- sample_params -------------------------------------------------------------------------

PARAMS = {
    "hvac_setpoint_c": {"min": 22.5, "max": 24.5},
    "panel_amps": {"choice": [150, 200]},
    "water_heater_liters": {"min": 150, "max": 270},
    "has_ev": True,
    "pv_kw": 6.0,
}


def test_sample_params_deterministic_and_in_range() -> None:
    first = sample_params(PARAMS, random.Random(5))
    reordered = dict(reversed(list(PARAMS.items())))
    assert sample_params(reordered, random.Random(5)) == first
    assert list(first) == sorted(PARAMS)
    rng = random.Random(1)
    for _ in range(200):
        got = sample_params(PARAMS, rng)
        assert 22.5 <= got["hvac_setpoint_c"] <= 24.5
        assert got["panel_amps"] in (150, 200)
        assert isinstance(got["water_heater_liters"], int)
        assert 150 <= got["water_heater_liters"] <= 270
        assert (got["has_ev"], got["pv_kw"]) == (True, 6.0)
    assert sample_params({}, random.Random(0)) == {}


# --- weather -------------------------------------------------------------------------------


def test_weather_diurnal_curve() -> None:
    w = Weather(min_c=22, max_c=36, peak_hour=15, cloud_cover=0.1)
    hours = [h / 10 for h in range(240)]
    temps = [w.outdoor_c(0, h) for h in hours]
    assert hours[temps.index(max(temps))] == 15 and max(temps) == pytest.approx(36)
    coolest = hours[temps.index(min(temps))]
    assert coolest < 6 and min(temps) == pytest.approx(22)  # coolest just before dawn
    assert w.outdoor_c(0, 24.0) == pytest.approx(w.outdoor_c(0, 0.0))  # no jump at midnight


def test_weather_points_interpolate() -> None:
    w = Weather(0, 0, points=((0, 20.0), (10, 30.0), (30, 10.0)))
    assert w.outdoor_c(5 * 3600, 99) == pytest.approx(25)
    assert w.outdoor_c(20 * 3600, 0) == pytest.approx(20)  # hours past 24: multi-day
    assert w.outdoor_c(40 * 3600, 0) == pytest.approx(10)  # held after the last point


def test_irradiance() -> None:
    clear, overcast = Weather(20, 30), Weather(20, 30, cloud_cover=1.0)
    for night in (0, 3, 5.9, 6, 20, 22.5):
        assert clear.irradiance(night) == 0
    assert clear.irradiance(13) == pytest.approx(1.0)
    assert clear.irradiance(10) < clear.irradiance(13) > clear.irradiance(16)
    assert overcast.irradiance(13) == pytest.approx(0.25)


# --- errors --------------------------------------------------------------------------------


def test_scenario_error_format_and_pickle() -> None:
    err = ScenarioError("a.yaml", 12, "events[0].duration", "must be positive (got -3600)")
    assert str(err) == "a.yaml:12: events[0].duration: must be positive (got -3600)"
    again = pickle.loads(pickle.dumps(err))
    assert (again.file, again.line, again.field, again.message) == ("a.yaml", 12,
                                                                     "events[0].duration",
                                                                     "must be positive (got -3600)")
    assert str(ScenarioError("a.yaml", None, "", "gone")) == "a.yaml: gone"


BAD_CASES = [
    # (id, old text, new text, line, field, message)
    ("wrong type", "count: 4", "count: four", 13, "fleet[0].count",
     'must be a whole number (got "four")'),
    ("unknown key", "    params:", "    parms:", 14, "fleet[0].parms",
     "unknown key (did you mean params?)"),
    ("unknown top key", "seed: 1", "sead: 1", 2, "sead", "unknown key (did you mean seed?)"),
    ("unknown param", "hvac_kw:", "hvac_kws:", 15, "fleet[0].params.hvac_kws",
     "unknown key (did you mean hvac_kw?)"),
    ("typo in required key", "template: house", "templat: house", 12, "fleet[0].templat",
     "unknown key (did you mean template?)"),
    ("missing key", "    template: house\n", "", 11, "fleet[0].template",
     "required key is missing"),
    ("enum", "template: house", "template: hous", 12, "fleet[0].template",
     "must be one of house, apartment, solar_home, heat_pump_home "
     '(got "hous"; did you mean house?)'),
    ("negative duration", "    duration: 2h", "    duration: -3600", 19, "events[0].duration",
     "must be positive (got -3600)"),
    ("zero duration", "duration: 24h", "duration: 0s", 4, "duration",
     'must be positive (got "0s")'),
    ("bad duration", "duration: 24h", "duration: 24 hours", 4, "duration",
     'must be a positive duration such as 2h or 7200 (got "24 hours")'),
    ("event past end", '"16:00"', '"23:00"', 19, "events[0].duration",
     'runs past the scenario end (+24h): the event would end at +25h (got "2h")'),
    ("event after end", '"16:00"', "+30h", 18, "events[0].start",
     'is at or after the scenario end (+24h) (got "+30h")'),
    ("event at zero", '"16:00"', '"00:00"', 18, "events[0].start",
     'needs at least one report interval (5m) before it for a baseline (got "00:00")'),
    ("event before start", '"16:00"', "2026-07-14T23:00:00Z", 18, "events[0].start",
     'is before the scenario start (2026-07-15T00:00:00+00:00) (got "2026-07-14T23:00:00Z")'),
    ("bad event start", '"16:00"', "4pm", 18, "events[0].start",
     'must be "HH:MM", an ISO datetime or an offset such as +16h (got "4pm")'),
    ("unknown target", "target: all", "target: home", 21, "events[0].target",
     'is not a fleet group (homes or all) (got "home"; did you mean homes?)'),
    ("both kw", "requested_kw: 6", "requested_kw: 6\n    per_ven_kw: 1", 21, "events[0].per_ven_kw",
     "give only one of requested_kw or per_ven_kw (got both)"),
    ("neither kw", "    requested_kw: 6\n", "", 17, "events[0]",
     "needs one of requested_kw or per_ven_kw (got neither)"),
    ("min above max", "{min: 3, max: 5}", "{min: 5, max: 3}", 15, "fleet[0].params.hvac_kw",
     "min must not exceed max (got {min: 5, max: 3})"),
    ("bad spec", "{min: 3, max: 5}", "{min: 3, mx: 5}", 15, "fleet[0].params.hvac_kw",
     "must be a number >= 0, {min: a, max: b} or {choice: [a, b, ...]} of such numbers "
     "(got {min: 3, mx: 5})"),
    ("report vs step", "report_interval: 5m", "report_interval: 90s", 5, "report_interval",
     'must be a whole multiple of physics_step (1m) (got "90s")'),
    ("bad speed", "seed: 1", "seed: 1\nspeed: fast", 3, "speed",
     'must be max or a positive number such as 1 or 60 (got "fast")'),
    ("min above max weather", "max_c: 30", "max_c: 10", 9, "weather.max_c",
     "must not be below min_c (20) (got 10)"),
    ("duplicate group", "events:",
     "  - name: homes\n    template: apartment\n    count: 1\nevents:",
     16, "fleet[1].name", 'duplicate group name (see fleet[0]) (got "homes")'),
    ("params not a mapping", "params:\n      hvac_kw: {min: 3, max: 5}", "params: [hvac_kw]", 14,
     "fleet[0].params", 'must be a mapping (got ["hvac_kw"])'),
    ("yaml syntax", "seed: 1", "seed: [1", 3, "",
     "invalid YAML: expected ',' or ']', but got ':' "
     "(while parsing a flow sequence that starts on line 2)"),
    ("yaml duplicate key", "seed: 1", "seed: 1\nseed: 2", 3, "",
     'invalid YAML: found duplicate key "seed" with value "2" (original value: "1")'),
    ("missing top key", "name: t\n", "", 1, "name", "required key is missing"),
    ("unknown settlement", "seed: 1", "seed: 1\nmv:\n  settlement: caiso", 4, "mv.settlement",
     "must be one of pre_window, caiso_10in10, pjm_hi4of5, control_group, counterfactual "
     '(got "caiso"'),
    ("bad holiday", "seed: 1", "seed: 1\nmv:\n  holidays: [2026-07-04, July 4]", 4,
     "mv.holidays[1]", 'must be a date such as 2026-07-04 (got "July 4")'),
    ("restore window of one", "seed: 1", "seed: 1\nmv:\n  restore_window: [15m]", 4,
     "mv.restore_window", "must be two durations such as [15m, 30m]"),
    ("restore window reversed", "seed: 1", "seed: 1\nmv:\n  restore_window: [30m, 15m]", 4,
     "mv.restore_window[1]", 'must not be shorter than the first (30m) (got "15m")'),
    ("restore window too long", "seed: 1", "seed: 1\nmv:\n  restore_window: [15m, 5h]", 4,
     "mv.restore_window[1]", 'must be at most 4h (got "5h")'),
    ("restore window not a duration", "seed: 1", "seed: 1\nmv:\n  restore_window: [15m, soon]",
     4, "mv.restore_window[1]", 'must be a positive duration such as 2h or 7200 (got "soon")'),
]


@pytest.mark.parametrize(("old", "new", "line", "field", "message"),
                         [case[1:] for case in BAD_CASES], ids=[case[0] for case in BAD_CASES])
def test_bad_scenarios(tmp_path: Path, old: str, new: str, line: int, field: str,
                       message: str) -> None:
    assert old in BASE
    path = write(tmp_path, BASE.replace(old, new, 1), "bad.yaml")
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)
    err = caught.value
    assert (err.file, err.line, err.field) == (str(path), line, field)
    prefix = f"{path}:{line}: {field}: " if field else f"{path}:{line}: "
    assert str(err).startswith(prefix) and message in err.message
    assert "\n" not in str(err)


def test_mv_block(tmp_path: Path) -> None:
    text = BASE.replace("seed: 1", "seed: 1\nmv:\n  settlement: pjm_hi4of5\n  warmup_days: 7\n"
                        "  holidays: [2026-07-03]\n  caiso_cap: 0.1")
    mv = load_text(tmp_path, text).mv
    assert (mv.settlement, mv.warmup_days, mv.holidays, mv.caiso_cap) == (
        "pjm_hi4of5", 7, (datetime(2026, 7, 3).date(),), 0.1)
    assert load_text(tmp_path, BASE).mv.settlement == "pre_window"
    # Scenario runs spread restores over 15 to 30 min unless told otherwise.
    assert load_text(tmp_path, BASE).mv.restore_window == (900.0, 1800.0)
    text = BASE.replace("seed: 1", "seed: 1\nmv:\n  restore_window: [0, 10m]")
    assert load_text(tmp_path, text).mv.restore_window == (0.0, 600.0)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError) as caught:
        load_scenario(tmp_path / "nope.yaml")
    assert caught.value.line is None
    assert str(caught.value) == f"{tmp_path / 'nope.yaml'}: cannot read scenario file: " \
        "No such file or directory"


def test_other_zone_start_offset_is_kept(tmp_path: Path) -> None:
    zone = timezone(timedelta(hours=-5))
    s = load_text(tmp_path, BASE.replace("2026-07-15T00:00:00Z", "2026-07-15T00:00:00-05:00"))
    assert s.start == datetime(2026, 7, 15, tzinfo=zone)


# --- local time ------------------------------------------------------------------------------


def test_timezone_makes_times_local_with_the_dates_offset(tmp_path: Path) -> None:
    from sim.world import World

    summer = BASE.replace("start: 2026-07-15T00:00:00Z", "timezone: America/Chicago\n"
                          "start: 2026-07-15T00:00:00")
    s = load_text(tmp_path, summer)
    assert s.start.utcoffset().total_seconds() == -5 * 3600  # CDT in July
    assert s.start == datetime(2026, 7, 15, 5, tzinfo=UTC)
    assert s.events[0].start_s == 16 * 3600  # "16:00" on the local clock
    world = World(s.start, s.weather)
    assert world.env_at(0.0).hour == 0.0 and world.env_at(16 * 3600.0).hour == 16.0
    winter = summer.replace("2026-07-15T00:00:00", "2026-01-15").replace(
        '    start: "16:00"', "    start: 2026-01-15T07:00:00")
    s = load_text(tmp_path, winter)
    assert s.start == datetime(2026, 1, 15, 6, tzinfo=UTC)  # CST: UTC-6
    assert s.events[0].start_s == 7 * 3600  # a naive ISO time is local too
    # A start with an offset is the same instant, shown on the zone's clock.
    s = load_text(tmp_path, summer.replace("2026-07-15T00:00:00", "2026-07-15T05:00:00Z"))
    assert s.start == datetime(2026, 7, 15, 5, tzinfo=UTC) and s.start.hour == 0


def test_unknown_timezone_names_file_line_and_field(tmp_path: Path) -> None:
    text = BASE.replace("seed: 1\n", "seed: 1\ntimezone: America/Chicagoo\n")
    with pytest.raises(ScenarioError) as err:
        load_text(tmp_path, text)
    assert str(err.value) == (
        f"{tmp_path / 's.yaml'}:3: timezone: is not an IANA time zone name such as "
        'America/Chicago or Europe/Berlin (got "America/Chicagoo")')
