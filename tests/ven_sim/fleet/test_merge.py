"""`ven-sim fleet merge`: counts add up, percentiles come from the summed buckets."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from ven_sim.cli import main
from ven_sim.fleet.histogram import Histogram
from ven_sim.fleet.identities import IdentityError
from ven_sim.fleet.merge import merge_results
from ven_sim.fleet.metrics import HISTOGRAMS
from ven_sim.fleet.results import behind_warning, machine_fields, saturation_warning


def _part(start: int, stop: int, samples: dict[str, list[float]], **extra: Any) -> dict[str, Any]:
    hists = {name: Histogram() for name in HISTOGRAMS}
    for name, values in samples.items():
        for value in values:
            hists[name].add(value)
    part = {
        "id_prefix": "ven-load", "id_range": [start, stop], "workers": 1,
        "vens_requested": stop - start, "vens_connected": stop - start,
        "connected_at_end": stop - start, "telemetry_published": 10 * (stop - start),
        "unexpected_disconnects": 0, "pings_sent": 5, "pings_answered": 5,
        "connect_rate_per_s": 100.0, "cpu_seconds": 3.0, "steady_cpu_cores": 0.1, "rss_mb": 50.0,
        "fanout": {"vens": stop - start, "acked": stop - start, "errors": 0,
                   "restore": {"vens": stop - start, "acked": stop - start - 1, "errors": 1}},
        "reconnects": 0, "commands_sent": 9, "commands_answered": 8,
        "disconnects": {}, "connect_failures": {}, "duration_s": 60.0, "stopped_early": False,
        "histograms": {name: hist.to_dict() for name, hist in hists.items()},
    }
    part.update(extra)
    return part


def test_two_shards_merge_to_the_figures_of_all_samples() -> None:
    rng = random.Random(11)
    fast = [rng.uniform(1, 20) for _ in range(1_000)]
    slow = [rng.uniform(50, 900) for _ in range(300)]
    a = _part(0, 1000, {"connect": fast, "fanout": fast, "fanout_restore": slow},
              disconnects={"takeover_rc7": 1}, reconnects=1)
    b = _part(1000, 1300, {"connect": slow, "fanout": slow, "command_rtt_restore": fast},
              disconnects={"takeover_rc7": 2, "keepalive_timeout": 1}, reconnects=3)
    merged = merge_results([a, b])
    whole = Histogram()
    for value in fast + slow:
        whole.add(value)
    assert merged["connect_ms"] == whole.summary("p50", "p95", "p99", "max")
    restores = Histogram()
    for value in slow:
        restores.add(value)
    assert merged["fanout"] == {
        "vens": 1300, "acked": 1300, "errors": 0, "ms": whole.summary("p50", "p99", "max"),
        # Shards from before the fan-out's stages were measured: none to report.
        "stages_ms": {stage: {"p50": None, "p99": None, "max": None}
                      for stage in ("received", "ack_sent")},
        "restore": {"vens": 1300, "acked": 1298, "errors": 2,
                    "ms": restores.summary("p50", "p99", "max")},
    }
    assert merged["reconnects"] == 4 and merged["disconnects"]["takeover_rc7"] == 3
    assert merged["commands_sent"] == 18 and merged["commands_answered"] == 16
    by_op = merged["command_rtt_ms_by_op"]
    assert by_op["ping"]["p50"] is None  # no samples in either shard
    fast_only = Histogram()
    for value in fast:
        fast_only.add(value)
    assert by_op["restore"] == fast_only.summary("p50", "p95", "p99", "max")
    assert merged["vens_connected"] == 1300 and merged["workers"] == 2
    assert merged["disconnects"] == {"takeover_rc7": 3, "keepalive_timeout": 1}
    assert merged["connect_rate_per_s"] == 200.0 and merged["cpu_seconds"] == 6.0
    assert Histogram.from_dict(merged["histograms"]["connect"]).count == 1300
    assert merged["id_ranges"] == [["ven-load", 0, 1000], ["ven-load", 1000, 1300]]


def test_overlapping_shards_are_refused(tmp_path: Path) -> None:
    a, b = _part(0, 600, {}), _part(500, 1000, {})
    with pytest.raises(IdentityError, match="overlap"):
        merge_results([a, b])
    for name, part in (("a", a), ("b", b)):
        (tmp_path / name).mkdir()
        (tmp_path / name / "fleet.json").write_text(json.dumps(part))
    result = CliRunner().invoke(main, ["fleet", "merge", str(tmp_path / "a"), str(tmp_path / "b")])
    assert result.exit_code == 1 and "overlap" in result.output


def test_the_cli_writes_the_merged_file(tmp_path: Path) -> None:
    files = []
    for name, (start, stop) in (("a", (0, 10)), ("b", (10, 30))):
        path = tmp_path / f"{name}.json"
        path.write_text(json.dumps(_part(start, stop, {"command_rtt": [1.0, 2.0, 40.0]})))
        files.append(str(path))
    out = tmp_path / "merged.json"
    result = CliRunner().invoke(main, ["fleet", "merge", *files, "--out", str(out)])
    assert result.exit_code == 0, result.output
    merged = json.loads(out.read_text())
    assert merged["vens_requested"] == 30
    assert Histogram.from_dict(merged["histograms"]["command_rtt"]).count == 6
    assert json.loads(result.stdout)["command_rtt_ms"]["max"] == 40.0
    # Bare results files say nothing of a timeline: none is merged, and the command says so.
    assert not (tmp_path / "timeline.csv").exists()
    assert "no merged timeline" in result.stderr


def test_all_connected_is_the_last_shards_and_unknown_if_one_never_got_there() -> None:
    a = _part(0, 10, {}, all_connected_s=4.5)
    b = _part(10, 20, {}, all_connected_s=6.25)
    assert merge_results([a, b])["all_connected_s"] == 6.25
    assert merge_results([a, _part(10, 20, {}, all_connected_s=None)])["all_connected_s"] is None


def test_the_fanout_window_spans_every_shards() -> None:
    """From the first shard's dispatch to the last shard's last ack; each shard's kept with
    its place in `id_ranges`, whatever order the parts came in and whichever had none."""
    a = _part(0, 10, {}, fanout_window={"began_at": 100.0, "last_ack_at": 103.5})
    b = _part(10, 20, {}, fanout_window=None)  # no fan-out there
    c = _part(20, 30, {}, fanout_window={"began_at": 101.25, "last_ack_at": 102.0})
    merged = merge_results([c, b, a])
    assert merged["id_ranges"] == [["ven-load", 0, 10], ["ven-load", 10, 20],
                                   ["ven-load", 20, 30]]
    assert merged["fanout_window"] == {
        "began_at": 100.0, "last_ack_at": 103.5,
        "shards": [[0, 100.0, 103.5], [2, 101.25, 102.0]]}
    assert merge_results([b])["fanout_window"] is None


def test_the_busiest_machine_and_its_saturated_seconds_are_kept() -> None:
    a = _part(0, 10, {}, machine_busy_percent_max=95.5, machine_saturated_s=20.0)
    b = _part(10, 20, {}, machine_busy_percent_max=40.0, machine_saturated_s=0.0)
    old = _part(20, 30, {})  # a shard from before these were measured
    merged = merge_results([a, b, old])
    assert (merged["machine_busy_percent_max"], merged["machine_saturated_s"]) == (95.5, 20.0)
    assert merge_results([old])["machine_busy_percent_max"] is None


def test_saturated_seconds_are_the_spans_of_the_rows_at_90_percent_or_more() -> None:
    rows = [{"t_s": 4.0, "machine_busy_percent": 99.0},  # the run's start to its first row
            {"t_s": 14.0, "machine_busy_percent": 50.0},
            {"t_s": 24.0, "machine_busy_percent": 90.0},
            {"t_s": 30.5, "machine_busy_percent": None}]  # no reading there
    assert machine_fields(rows, 30.0) == {"machine_busy_percent_max": 99.0,
                                          "machine_saturated_s": 14.0}
    assert machine_fields(rows, 10.0)["machine_saturated_s"] == 10.0  # never over the run
    # Not even when rounded: all of a 61.16 s run is 61.1 s, not 61.2.
    busy_throughout = [{"t_s": 61.16, "machine_busy_percent": 100.0}]
    assert machine_fields(busy_throughout, 61.16)["machine_saturated_s"] == 61.1
    assert machine_fields([], 5.0) == {"machine_busy_percent_max": None,
                                       "machine_saturated_s": 0.0}


def test_a_saturated_run_is_warned_about_and_a_calm_one_is_not(tmp_path: Path) -> None:
    assert saturation_warning({"machine_saturated_s": 0.0, "duration_s": 60.0}) is None
    files = []
    for name, (start, stop), saturated in (("a", (0, 10), 12.5), ("b", (10, 30), 0.0)):
        path = tmp_path / f"{name}.json"
        path.write_text(json.dumps(_part(start, stop, {}, machine_busy_percent_max=97.0,
                                         machine_saturated_s=saturated)))
        files.append(str(path))
    result = CliRunner().invoke(main, ["fleet", "merge", *files])
    assert result.exit_code == 0, result.output
    assert "busy for 12.5 s of the run's 60 s" in result.stderr
    assert "--shard, --ray" in result.stderr and "warning" not in result.stdout


def test_a_fleet_that_fell_behind_its_schedule_is_warned_about(tmp_path: Path) -> None:
    """The merged fleet's latest step, from the shards' lag histograms: one shard 2.5 s
    behind is enough for the warning; a fleet that kept its schedule gets none."""
    assert behind_warning({"schedule_lag_ms": {"p50": 1.0, "p99": 40.0, "max": 900.0}}) is None
    assert behind_warning({"schedule_lag_ms": None}) is None  # a shard from an older version
    files = []
    for name, (start, stop), lags in (("a", (0, 10), [1.0, 3.0, 2_500.0]), ("b", (10, 30), [2.0])):
        path = tmp_path / f"{name}.json"
        path.write_text(json.dumps(_part(start, stop, {"schedule_lag": lags})))
        files.append(str(path))
    result = CliRunner().invoke(main, ["fleet", "merge", *files])
    assert result.exit_code == 0, result.output
    assert "started up to 2.5 s late (schedule_lag_ms)" in result.stderr
    assert json.loads(result.stdout)["schedule_lag_ms"]["max"] == 2_500.0
