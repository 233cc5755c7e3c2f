"""`ven-sim fleet` against a real mosquitto with mutual TLS: every VEN its own ID and cert."""

from __future__ import annotations

import csv
import itertools
import json
import math
import stat
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from click.testing import CliRunner
from cryptography import x509
from cryptography.x509.oid import NameOID

from tests.ven_sim.fleet.live_run import run_until
from ven_sim.broker.mosquitto import Mosquitto
from ven_sim.cli import main
from ven_sim.fleet.histogram import Histogram
from ven_sim.fleet.identities import CLAIM_FILE, IdRange, claim
from ven_sim.fleet.merge import merge_results
from ven_sim.fleet.metrics import FANOUT_STAGES
from ven_sim.fleet.plan import FleetConfig
from ven_sim.fleet.process_stats import cpu_seconds
from ven_sim.fleet.results import TIMELINE_FIELDS
from ven_sim.fleet.session import WireOptions, run_fleet
from ven_sim.fleet.timeline import load_timeline

VENS = 200  # the size: distinct IDs, a certificate each
VTN_CONNECTIONS = 3  # the probe's: the fan-out over three, its acks shared among them
RAMP = 100.0  # connects/s: two seconds of ramp
DURATION_S = 9.0


@pytest.fixture(scope="module")
def fleet_run(mosquitto: Mosquitto, tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, Path]:
    out = tmp_path_factory.mktemp("fleet") / "runs" / "shard-0"
    config = FleetConfig(IdRange("ven-test", 0, VENS), VENS, ramp_per_s=RAMP,
                         duration_s=DURATION_S, telemetry_interval_s=2.0, probe_rate=10.0,
                         vtn_connections=VTN_CONNECTIONS)
    options = WireOptions(mosquitto.url, local_ca=mosquitto.folder / "certs")
    # Work this process did before the run (a fleet worker's imports, say) is no interval's.
    worked = cpu_seconds()
    while cpu_seconds() - worked < 1.5:
        pass
    before = cpu_seconds()
    progress_at: list[float] = []  # time.time() of each progress line
    results = run_fleet(config, options, out, say=lambda _line: None,
                        progress=lambda _line: progress_at.append(time.time()))
    results["test_measured_cpu_s"] = cpu_seconds() - before  # this process's, around the run
    results["test_progress_at"] = progress_at
    return results, out


def test_every_ven_connects_and_acks_the_fanout(fleet_run: tuple[dict, Path]) -> None:
    results, _ = fleet_run
    assert results["vens_requested"] == results["vens_connected"] == VENS
    assert results["connected_at_end"] == VENS
    assert results["fanout"] == {**results["fanout"], "vens": VENS, "acked": VENS, "errors": 0}
    assert results["unexpected_disconnects"] == 0 and results["connect_failures"] == {}
    assert results["all_connected_s"] is not None and results["stopped_early"] is False
    # Each ack reached the probe once, over one of its connections (the shared subscription).
    assert results["vtn_connections"] == VTN_CONNECTIONS and results["acks_unmatched"] == 0


def test_figures_are_present_and_sane(fleet_run: tuple[dict, Path]) -> None:
    results, _ = fleet_run
    for name in ("connect_ms", "tcp_ms", "tls_ms", "connack_ms", "command_rtt_ms"):
        figures = results[name]
        assert 0 < figures["p50"] <= figures["p95"] <= figures["p99"] <= figures["max"], name
    for name in ("puback_ms", "telemetry_latency_ms"):
        assert 0 < results[name]["p50"] <= results[name]["p99"] <= results[name]["max"], name
    fan = results["fanout"]["ms"]
    assert 0 < fan["p50"] <= fan["p99"] <= fan["max"] < 30_000
    # Where its time went: each VEN read its command, then published its ack, then the ack
    # reached the probe (a VEN the probe also pinged meanwhile may lack a stage).
    stages = results["fanout"]["stages_ms"]
    for stage in FANOUT_STAGES:
        count = Histogram.from_dict(results["histograms"][f"fanout_{stage}"]).count
        assert VENS - 10 <= count <= VENS, stage
        assert 0 < stages[stage]["p50"] <= stages[stage]["max"], stage
    assert stages["received"]["p50"] <= stages["ack_sent"]["p50"] <= fan["p50"]
    loop_round = results["loop_round_ms"]
    assert 0 <= loop_round["p50"] <= loop_round["p99"] <= loop_round["max"]
    # How late each timed step started: at least the VENs' clock, 4 steps a second.
    lag = results["schedule_lag_ms"]
    assert 0 <= lag["p50"] <= lag["p99"] <= lag["max"]
    assert Histogram.from_dict(results["histograms"]["schedule_lag"]).count >= 2 * DURATION_S
    # Every VEN reported at least once (first report one interval after it came up).
    assert results["telemetry_published"] >= VENS
    assert results["pings_answered"] == results["pings_sent"] > 0
    # Pings after the fan-out are also counted apart, as the steady state.
    steady = Histogram.from_dict(results["histograms"]["command_rtt_steady"])
    assert 0 < steady.count < results["commands_answered"]
    assert results["steady"]["command_rtt_ms"]["p50"] is not None
    # It opens once the fan-out is over: every ack of the event, then of its restore, in.
    restore = results["fanout"]["restore"]["ms"]
    fanout_over_s = results["all_connected_s"] + (fan["max"] + restore["max"]) / 1000.0
    assert fanout_over_s - 0.02 <= results["steady_from_s"] < DURATION_S  # 0.02: rounding
    # Inside a long pytest process 200 VENs may fit in memory earlier tests freed, so RSS
    # need not grow here; memory per VEN is measured by `ven-sim bench fleet` in a fresh one.
    # (Linux updates the peak, ru_maxrss, lazily: it can trail the current RSS.)
    assert results["cpu_seconds"] > 0 and results["rss_mb_before_vens"] > 0
    assert 0 < results["machine_busy_percent_max"] <= 100
    assert 0 <= results["machine_saturated_s"] <= results["duration_s"]
    assert results["rss_mb"] > 0 and results["rss_peak_mb"] > 0
    assert DURATION_S <= results["duration_s"] < DURATION_S + 5
    connects = Histogram.from_dict(results["histograms"]["connect"])
    assert connects.count == VENS
    assert Histogram.from_dict(results["histograms"]["fanout"]).count == VENS
    # The fan-out's window on the wall clock: its dispatch to its slowest ack.
    window = results["fanout_window"]
    spanned_ms = (window["last_ack_at"] - window["began_at"]) * 1000.0
    assert abs(spanned_ms - fan["max"]) <= 2.0 + fan["max"] * 0.01  # rounding, buckets


def test_probe_commands_and_the_fanout_restore_are_each_acked(
    fleet_run: tuple[dict, Path],
) -> None:
    results, _ = fleet_run
    counts = {op: Histogram.from_dict(results["histograms"][f"command_rtt_{op}"]).count
              for op in ("ping", "event", "restore")}
    # Pings and events take turns; each event acked is restored at once (the last restore
    # may still be out when the run stops).
    assert counts["ping"] == results["pings_answered"] and abs(
        counts["ping"] - counts["event"]) <= 1
    assert counts["event"] - 1 <= counts["restore"] <= counts["event"]
    assert sum(counts.values()) == results["commands_answered"] == Histogram.from_dict(
        results["histograms"]["command_rtt"]).count
    assert results["commands_sent"] - results["commands_answered"] <= 2
    for op in ("ping", "event", "restore"):
        figures = results["command_rtt_ms_by_op"][op]
        assert 0 < figures["p50"] <= figures["p99"] <= figures["max"], op
    # The backend ends the fan-out's event: a restore to every VEN, every one acked.
    restore = results["fanout"]["restore"]
    assert restore == {**restore, "vens": VENS, "acked": VENS, "errors": 0}
    assert 0 < restore["ms"]["p50"] <= restore["ms"]["p99"] <= restore["ms"]["max"] < 30_000
    assert Histogram.from_dict(results["histograms"]["fanout_restore"]).count == VENS
    assert results["reconnects"] == 0


def test_the_timeline_keeps_each_intervals_samples(fleet_run: tuple[dict, Path]) -> None:
    results, out = fleet_run
    rows = load_timeline(out / "timeline.csv")
    starts = [row["interval_start"] for row in rows]
    assert starts == sorted(set(starts)) and all(s.endswith("0Z") for s in starts)
    assert int(rows[-1]["restore_acked"]) == int(rows[-1]["fanout_acked"]) == VENS
    assert int(rows[-1]["reconnects"]) == 0
    # Every sample of the run sits in exactly one interval's histogram...
    for name in ("connect", "fanout", "fanout_restore"):
        in_rows = sum(Histogram.from_dict(row["histograms"][name]).count
                      for row in rows if name in row["histograms"])
        assert in_rows == Histogram.from_dict(results["histograms"][name]).count, name
    # ...but for those taken after the last row, as the VENs stop: PUBACKs of their last
    # reports, and maybe the ack of a command sent just before the stop.
    for name, late in (("puback", None), ("command_rtt", 1)):
        in_rows = sum(Histogram.from_dict(row["histograms"][name]).count
                      for row in rows if name in row["histograms"])
        total = Histogram.from_dict(results["histograms"][name]).count
        assert (1 if late is None else total - late) <= in_rows <= total, name
    for row in rows:
        if "fanout" in row["histograms"]:
            fanout = Histogram.from_dict(row["histograms"]["fanout"])
            assert float(row["fanout_p99_ms"]) == fanout.summary("p99")["p99"]
        else:
            assert row["fanout_p99_ms"] == ""
    # The network loop's rounds, and the steps' lag, interval by interval (rounds go on
    # while the VENs stop; the last row may have no step).
    for name in ("loop_round", "schedule_lag"):
        hists = [Histogram.from_dict(row["histograms"][name]) if name in row["histograms"]
                 else Histogram() for row in rows]
        cells = [row[f"{name}_p99_ms"] for row in rows]
        assert [float(cell) if cell else None for cell in cells] == [
            hist.summary("p99")["p99"] for hist in hists], name
        assert 0 < sum(h.count for h in hists) <= Histogram.from_dict(
            results["histograms"][name]).count, name
    # The whole machine's CPUs, interval by interval; the run's busiest is fleet.json's.
    busy = [float(row["machine_busy_percent"]) for row in rows if row["machine_busy_percent"]]
    assert busy and all(0 <= b <= 100 for b in busy)
    assert max(busy) == results["machine_busy_percent_max"]
    # This process's CPU, interval by interval: added up over the rows, no more than what
    # the test measured around the whole run, and at least a quarter of it (the rest, about
    # half here: minting the certificates before the first interval, stopping and drawing
    # timeline.png after the last).
    spans = [float(row["t_s"]) for row in rows]
    spans = [spans[0]] + [b - a for a, b in zip(spans, spans[1:], strict=False)]
    in_rows = sum(float(row["cpu_cores"]) * span for row, span in zip(rows, spans, strict=True))
    measured = results["test_measured_cpu_s"]
    assert 0.25 * measured <= in_rows <= 1.1 * measured + 0.3, (in_rows, measured)


def test_one_progress_row_each_wall_clock_second(fleet_run: tuple[dict, Path]) -> None:
    """Rows are taken just after each whole second. One taken late must not make the next
    come early: that was a second row in the same second, over a few milliseconds (its CPU
    and the machine's read over them, its telemetry rate near 0)."""
    seconds = [math.floor(at) for at in fleet_run[0]["test_progress_at"]]
    assert len(seconds) >= DURATION_S - 2
    assert all(later > earlier for earlier, later in itertools.pairwise(seconds))


def test_the_ramp_is_respected(fleet_run: tuple[dict, Path]) -> None:
    results, _ = fleet_run
    opens = [t_open for _, t_open, _ in results["connects"]]
    assert len(opens) == VENS
    # One connect per 1/RAMP slot: the spread is about (VENS - 1) / RAMP seconds...
    assert (VENS - 1) / RAMP * 0.8 <= opens[-1] - opens[0] <= VENS / RAMP + 2.0
    # ...and no second holds much more than RAMP opens (a late kernel can bunch a few).
    per_second = Counter(int(t - opens[0]) for t in opens)
    assert max(per_second.values()) <= RAMP * 1.5
    ups = [t_up for _, _, t_up in results["connects"]]
    assert all(t_up is not None and t_up > t_open for (_, t_open, t_up) in results["connects"])
    assert max(ups) - min(ups) < VENS / RAMP + 5.0
    # 200 VENs at 100/s fit in the handshake window: the ramp kept (about) to its plan.
    assert results["ramp_held_s"] >= 0.0 and 0.0 <= results["ramp_behind_s"] < 2.0


def test_distinct_ids_each_with_its_own_certificate(
    fleet_run: tuple[dict, Path], mosquitto: Mosquitto
) -> None:
    results, _ = fleet_run
    ids = [cid for cid, _, _ in results["connects"]]
    assert len(set(ids)) == VENS and ids[0] == "ven-test-000000"
    clients = mosquitto.folder / "certs" / "clients"
    for ven_id in (ids[0], ids[VENS // 2], ids[-1]):
        cert = x509.load_pem_x509_certificate((clients / ven_id / "cert.pem").read_bytes())
        common_name = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
        assert common_name == ven_id
        assert stat.S_IMODE((clients / ven_id / "key.pem").stat().st_mode) == 0o600


def test_files_are_written_and_the_claim_released(fleet_run: tuple[dict, Path]) -> None:
    results, out = fleet_run
    assert json.loads((out / "fleet.json").read_text())["vens_connected"] == VENS
    with (out / "timeline.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert rows and tuple(rows[0]) == TIMELINE_FIELDS
    assert int(rows[-1]["connected"]) == VENS
    assert not (out / CLAIM_FILE).exists()


def test_the_cli_refuses_an_overlapping_shard(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    claim(runs / "shard-0", IdRange("ven-load", 0, 500))  # a shard still running
    result = CliRunner().invoke(main, [
        "fleet", "--vens", "1000", "--shard", "0/2", "--broker", "mqtts://127.0.0.1:1",
        "--out", str(runs / "again"),
    ])
    assert result.exit_code == 1
    assert "ven-load-000000 .. ven-load-000499 overlap" in result.output
    assert not (runs / "again" / CLAIM_FILE).exists()
    # The other half is free: it gets as far as the broker (nothing listens on port 1).
    result = CliRunner().invoke(main, [
        "fleet", "--vens", "1000", "--shard", "1/2", "--broker", "mqtts://127.0.0.1:1",
        "--out", str(runs / "shard-1"),
    ])
    assert result.exit_code == 1 and "overlap" not in result.output
    assert "--ca" in result.output  # open_wire wants the broker's CA for mqtts://
    assert not (runs / "shard-1" / CLAIM_FILE).exists()


def test_the_cli_refuses_a_tls_version_without_tls(tmp_path: Path) -> None:
    """`--tls-version` without TLS (in-process bus, mqtt://) was set and silently ignored."""
    result = CliRunner().invoke(main, [
        "fleet", "--vens", "2", "--broker", "inprocess", "--tls-version", "1.2",
        "--duration", "2", "--out", str(tmp_path / "run"),
    ])
    assert result.exit_code == 1
    assert "--tls-version needs a TLS broker: inprocess has no TLS" in result.output
    assert not (tmp_path / "run" / "fleet.json").exists()
    result = CliRunner().invoke(main, [
        "fleet", "--vens", "2", "--broker", "mqtt://127.0.0.1:1", "--tls-version", "1.3",
        "--out", str(tmp_path / "plain"),
    ])
    assert result.exit_code == 1
    assert "mqtt://127.0.0.1:1 has no TLS" in result.output


def test_ctrl_c_stops_cleanly_and_still_writes_results(
    mosquitto: Mosquitto, tmp_path: Path
) -> None:
    out = tmp_path / "runs" / "interrupted"
    command = [
        sys.executable, "-m", "ven_sim", "fleet", "--vens", "20", "--ramp", "40",
        "--broker", mosquitto.url, "--local-ca", str(mosquitto.folder / "certs"),
        "--duration", "600", "--telemetry-interval", "1", "--id-prefix", "ven-sigint",
        "--out", str(out),
    ]
    code, _, stdout, _ = run_until(command, "connected 20/20", "fan-out acked 20")
    assert code == 0, stdout
    results = json.loads((out / "fleet.json").read_text())
    assert results["stopped_early"] is True and results["duration_s"] < 600
    assert results["vens_connected"] == 20 and results["unexpected_disconnects"] == 0
    assert not (out / CLAIM_FILE).exists()


def test_merging_one_real_shard_gives_back_its_figures(fleet_run: tuple[dict, Path]) -> None:
    results, _ = fleet_run
    merged = merge_results([results])
    for key in ("vens_connected", "telemetry_published", "connect_ms", "command_rtt_ms",
                "puback_ms", "steady", "fanout", "vtn_connections", "acks_unmatched"):
        assert merged[key] == results[key], key
