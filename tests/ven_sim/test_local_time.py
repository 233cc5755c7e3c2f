"""Local time in the outputs: a scenario with `timezone:` across a daylight-saving change."""

from __future__ import annotations

import csv
import json
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from click.testing import CliRunner

from ven_sim.cli import main
from ven_sim.plot import clock_axis_label, clock_label, clock_ticks

CHICAGO = ZoneInfo("America/Chicago")
# Daylight saving ends in Chicago at 02:00 CDT on 2026-11-01: the clock goes back to 01:00 CST.
SCENARIO = """\
name: chicago_fall_back
seed: 3
timezone: America/Chicago
start: 2026-10-31T12:00:00
duration: 36h
report_interval: 15m
weather: {min_c: 8, max_c: 20, peak_hour: 15}
fleet:
  - name: homes
    template: house
    count: 3
events:
  - id: evt-1
    start: 2026-11-01T17:00:00
    duration: 1h
    requested_kw: 2
"""
START = datetime(2026, 10, 31, 12, tzinfo=CHICAGO).timestamp()


def _run(tmp_path: Path, text: str) -> Path:
    path, out = tmp_path / "s.yaml", tmp_path / "out"
    path.write_text(text)
    result = CliRunner().invoke(main, ["run", str(path), "--circuits", "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open() as f:
        return list(csv.DictReader(f))


def test_outputs_carry_the_local_offset_across_the_change(tmp_path: Path) -> None:
    out = _run(tmp_path, SCENARIO)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["start"] == "2026-10-31T12:00:00-05:00"
    assert summary["timezone"] == "America/Chicago"
    (event,) = summary["events"]
    # 17:00 on the local clock, which is CST by then: 30 real hours after the start.
    assert (event["start"], event["end"]) == ("2026-11-01T17:00:00-06:00",
                                              "2026-11-01T18:00:00-06:00")
    assert event["start_s"] == 30 * 3600.0
    for name in ("timeseries.csv", "circuits.csv"):
        rows = _rows(out / name)
        for r in rows:  # every time is the very instant of t_seconds, with its own offset
            assert datetime.fromisoformat(r["time"]).timestamp() == START + float(r["t_seconds"])
        times = sorted({(float(r["t_seconds"]), r["time"]) for r in rows})
        assert times[0][1] == "2026-10-31T12:15:00-05:00"
        night = [time[11:] for _, time in times if time.startswith("2026-11-01T01:")]
        assert night == [f"01:{m:02d}:00{z}" for z in ("-05:00", "-06:00")
                         for m in (0, 15, 30, 45)]  # the hour the clock goes through twice
    asked = [r["time"] for r in _rows(out / "timeseries.csv") if float(r["requested_kw"]) > 0]
    assert asked and all(t.startswith("2026-11-01T17:") or t == "2026-11-01T18:00:00-06:00"
                         for t in asked)


def test_without_a_timezone_outputs_stay_in_utc(tmp_path: Path) -> None:
    text = SCENARIO.replace("timezone: America/Chicago\n", "").replace(
        "start: 2026-10-31T12:00:00", "start: 2026-10-31T17:00:00Z").replace(
        "start: 2026-11-01T17:00:00", "start: 2026-11-01T23:00:00Z")
    out = _run(tmp_path, text)
    summary = json.loads((out / "summary.json").read_text())
    assert "timezone" not in summary
    assert summary["start"] == "2026-10-31T17:00:00Z"
    assert summary["events"][0]["start"] == "2026-11-01T23:00:00Z"
    assert _rows(out / "timeseries.csv")[0]["time"] == "2026-10-31T17:15:00Z"


def test_report_axis_reads_the_local_clock() -> None:
    # An event 17:00-18:00 CDT on a July day (22:00-23:00 UTC), zoomed two hours either side.
    lo = datetime(2026, 7, 15, 15, tzinfo=CHICAGO).timestamp()
    hi = datetime(2026, 7, 15, 20, tzinfo=CHICAGO).timestamp()
    ticks = clock_ticks(lo, hi, CHICAGO)
    assert [clock_label(t, CHICAGO) for t in ticks] == ["15:00", "16:00", "17:00", "18:00",
                                                      "19:00", "20:00"]
    assert [clock_label(t) for t in ticks] == ["20:00", "21:00", "22:00", "23:00", "00:00",
                                               "01:00"]  # the same instants in UTC
    assert clock_axis_label(CHICAGO) == "local time (America/Chicago)"
    assert clock_axis_label(None) == "time (UTC)"
    # The night of the change: the local clock reads 01:00 twice, an hour apart.
    night = clock_ticks(datetime(2026, 11, 1, 0, tzinfo=CHICAGO).timestamp(),
                        datetime(2026, 11, 1, 3, tzinfo=CHICAGO).timestamp(), CHICAGO)
    assert [clock_label(t, CHICAGO) for t in night] == ["00:00", "01:00", "01:00", "02:00",
                                                        "03:00"]
    assert all(b - a == 3600.0 for a, b in zip(night, night[1:], strict=False))
    # Coarser ticks for a long run fall on local hours divisible by the step.
    day = clock_ticks(lo, lo + 86400.0, CHICAGO, every_h=6)
    assert [clock_label(t, CHICAGO) for t in day] == ["18:00", "00:00", "06:00", "12:00"]
