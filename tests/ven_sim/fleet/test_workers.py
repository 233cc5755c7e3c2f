"""`ven-sim fleet --workers 2` against mosquitto with mTLS: two processes, one fleet."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.ven_sim.fleet.live_run import run_until
from ven_sim.broker.mosquitto import Mosquitto
from ven_sim.cli import main
from ven_sim.fleet.histogram import Histogram
from ven_sim.fleet.identities import CLAIM_FILE

VENS = 40
WORKERS = 2


def fleet_command(mosquitto: Mosquitto, out: Path, *extra: str) -> list[str]:
    return [
        sys.executable, "-m", "ven_sim", "fleet", "--workers", str(WORKERS),
        "--vens", str(VENS), "--ramp", "40", "--telemetry-interval", "1", "--probe-rate", "5",
        "--broker", mosquitto.url, "--local-ca", str(mosquitto.folder / "certs"),
        "--out", str(out), *extra,
    ]


def shards(out: Path) -> list[dict]:
    return [json.loads((out / f"shard-{i}" / "fleet.json").read_text()) for i in range(WORKERS)]


@pytest.fixture(scope="module")
def workers_run(mosquitto: Mosquitto, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("workers") / "run"
    command = fleet_command(mosquitto, out, "--duration", "8", "--id-prefix", "ven-workers",
                            "--vtn-connections", "2")
    result = subprocess.run(command, capture_output=True, text=True, timeout=180, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    return out


def test_merged_totals_are_the_sums_of_the_shards(workers_run: Path) -> None:
    merged = json.loads((workers_run / "fleet.json").read_text())
    parts = shards(workers_run)
    assert merged["workers"] == WORKERS and merged["shards_merged"] == WORKERS
    assert merged["all_connected_s"] == max(part["all_connected_s"] for part in parts)
    assert merged["vens_requested"] == merged["vens_connected"] == VENS
    for key in ("vens_connected", "telemetry_published", "pings_sent", "pings_answered"):
        assert merged[key] == sum(part[key] for part in parts), key
    assert merged["fanout"]["vens"] == merged["fanout"]["acked"] == VENS
    # Each worker's probe over the two connections it was given, each subscribed to its own
    # shard's VENs' acks alone (`reads_own_acks`): none of the other shard's reaches it.
    assert [part["vtn_connections"] for part in parts] == [2, 2] and merged["vtn_connections"] == 4
    assert [part["ack_subscriptions"] for part in parts] == [VENS, VENS]  # 20 VENs, 2 each
    assert [part["acks_unmatched"] for part in parts] == [0, 0]
    assert merged["unexpected_disconnects"] == 0
    for name, data in merged["histograms"].items():  # exact: bucket by bucket
        expected = Histogram()
        for part in parts:
            expected.merge(Histogram.from_dict(part["histograms"][name]))
        assert Histogram.from_dict(data).buckets == expected.buckets, name
    assert merged["command_rtt_ms"]["p99"] == Histogram.from_dict(
        merged["histograms"]["command_rtt"]).summary("p99")["p99"]


def test_the_workers_ids_are_disjoint_and_cover_the_fleet(workers_run: Path) -> None:
    parts = shards(workers_run)
    ids = [{cid for cid, _, _ in part["connects"]} for part in parts]
    assert not ids[0] & ids[1]
    assert ids[0] | ids[1] == {f"ven-workers-{i:06d}" for i in range(VENS)}
    assert sorted(part["id_range"] for part in parts) == [[0, VENS // 2], [VENS // 2, VENS]]
    for i in range(WORKERS):
        assert (workers_run / f"shard-{i}" / "timeline.png").stat().st_size > 0
        assert not (workers_run / f"shard-{i}" / CLAIM_FILE).exists()


def assert_merges_the_shards_timelines(merged_folder: Path, workers_run: Path) -> None:
    """merged_folder's timeline.csv is the shards' timelines of `workers_run` lined up by
    interval: running counts added up, each p99 from the interval's summed histograms."""
    from ven_sim.fleet.timeline import LATENCY_P99_COLUMNS, load_timeline

    merged = load_timeline(merged_folder / "timeline.csv")
    parts = [load_timeline(workers_run / f"shard-{i}" / "timeline.csv") for i in range(WORKERS)]
    # One row per wall-clock interval that either shard measured, in order.
    assert [row["interval_start"] for row in merged] == sorted(
        {row["interval_start"] for rows in parts for row in rows})
    for row in merged:
        at = row["interval_start"]
        # A running count: each shard's latest row at or before this interval, added up.
        latest = [[r for r in rows if r["interval_start"] <= at] for rows in parts]
        assert int(row["telemetry_published"]) == sum(
            int(rows[-1]["telemetry_published"]) for rows in latest if rows)
        # Each interval's p99 is that of the shards' samples of the interval, together.
        for column, name in LATENCY_P99_COLUMNS.items():
            together = Histogram()
            for rows in parts:
                for part_row in rows:
                    if part_row["interval_start"] == at and name in part_row["histograms"]:
                        together.merge(Histogram.from_dict(part_row["histograms"][name]))
            expected = together.summary("p99")["p99"]
            assert row[column] == ("" if expected is None else str(expected)), (at, column)
    assert any(row["command_rtt_p99_ms"] for row in merged)  # the probe's samples are in it
    assert (merged_folder / "timeline.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_merged_timeline_adds_up_the_shards(workers_run: Path) -> None:
    from ven_sim.fleet.timeline import load_timeline

    assert_merges_the_shards_timelines(workers_run, workers_run)
    merged = load_timeline(workers_run / "timeline.csv")
    commands = sum(Histogram.from_dict(row["histograms"]["command_rtt"]).count
                   for row in merged if "command_rtt" in row["histograms"])
    answered = json.loads((workers_run / "fleet.json").read_text())["commands_answered"]
    assert answered - WORKERS <= commands <= answered  # an ack may land after a last row


def test_fleet_merge_of_the_shard_folders_merges_their_timelines_too(
    workers_run: Path, tmp_path: Path
) -> None:
    """`ven-sim fleet merge` of the two `--shard i/2` runs' folders, as from two machines."""
    out = tmp_path / "merged"
    result = CliRunner().invoke(main, ["fleet", "merge", *(
        str(workers_run / f"shard-{i}") for i in range(WORKERS)), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "merged timeline of 2 shard(s)" in result.stderr
    merged, parts = json.loads((out / "fleet.json").read_text()), shards(workers_run)
    for key in ("vens_requested", "vens_connected", "telemetry_published", "commands_sent"):
        assert merged[key] == sum(part[key] for part in parts), key
    assert_merges_the_shards_timelines(out, workers_run)
    # The same timeline as the one `--workers` merged from them when the run ended.
    assert (out / "timeline.csv").read_text() == (workers_run / "timeline.csv").read_text()


def worker_processes(id_prefix: str) -> list[tuple[int, int]]:
    """(pid, parent pid) of every running fleet worker of the run with this ID prefix."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            words = (entry / "cmdline").read_bytes().split(b"\0")
            parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError):
            continue  # not a process, or one that has just ended
        if b"--shard" in words and id_prefix.encode() in words:
            found.append((int(entry.name), parent))
    return found


def test_ctrl_c_stops_every_worker_and_still_merges(mosquitto: Mosquitto, tmp_path: Path) -> None:
    out = tmp_path / "interrupted"
    command = fleet_command(mosquitto, out, "--duration", "600", "--id-prefix", "ven-wsig")
    seen: list[tuple[int, int, int, int]] = []  # (pid, parent, its group, its session)
    inputs: list[str] = []  # what each worker's stdin is

    def note_the_workers() -> None:
        seen.extend((pid, parent, os.getpgid(pid), os.getsid(pid))
                    for pid, parent in worker_processes("ven-wsig"))
        inputs.extend(os.readlink(f"/proc/{pid}/fd/0") for pid, *_ in seen)

    # The Ctrl-C goes to the fleet's whole process group, as a terminal sends it.
    code, line, stdout, stderr = run_until(
        command, f"connected {VENS}/{VENS}", f"fan-out acked {VENS}",  # the combined line
        then=note_the_workers, terminal=True)
    assert code == 0, stdout + stderr
    # Each worker has a process group of its own, so the terminal's Ctrl-C reaches the fleet
    # only, which stops them one by one; and they stay in the fleet's session, so the
    # scheduler (autogroup) shares the cores between them as one job, not one job each.
    assert len(seen) == WORKERS
    for pid, parent, group, session in seen:
        assert group == pid and session == parent  # `terminal`: the fleet leads its session
    assert inputs == [os.devnull] * WORKERS  # never the terminal's
    assert "workers 2/2" in line
    merged = json.loads((out / "fleet.json").read_text())
    assert merged["stopped_early"] is True and merged["workers"] == WORKERS
    assert merged["vens_connected"] == VENS and merged["unexpected_disconnects"] == 0
    assert all(part["stopped_early"] and part["duration_s"] < 600 for part in shards(out))


def test_a_worker_gets_the_fleet_options_its_shard_and_its_own_port() -> None:
    from ven_sim.fleet.workers import shard_metrics_port, worker_command

    command = worker_command(["--vens", "10", "--no-fanout"], 1, 2, Path("runs/x"), 9464)
    assert command[3:] == ["fleet", "--vens", "10", "--no-fanout", "--shard", "1/2",
                           "--out", str(Path("runs/x/shard-1")), "--progress-json",
                           "--metrics-port", "9465"]
    assert "--metrics-port" not in worker_command([], 0, 2, Path("runs/x"), None)
    assert shard_metrics_port(0, 3) == 0  # each takes a free port


def test_a_saturated_machine_is_warned_about_once_for_the_fleet(
    mosquitto: Mosquitto, tmp_path: Path
) -> None:
    """Every core kept busy (spinning processes at the lowest priority, so the fleet still
    runs): the parent says so once for the machine; its workers, on the same machine, not."""
    out = tmp_path / "busy"
    spin = "import os\nos.nice(19)\nwhile True:\n    pass"
    spinners = [subprocess.Popen([sys.executable, "-c", spin])
                for _ in range(os.cpu_count() or 1)]
    try:
        command = fleet_command(mosquitto, out, "--duration", "5", "--id-prefix", "ven-wbusy",
                                "--no-fanout")
        result = subprocess.run(command, capture_output=True, text=True, timeout=180,
                                check=False)
    finally:
        for spinner in spinners:
            spinner.kill()
            spinner.wait()
    assert result.returncode == 0, result.stdout + result.stderr
    merged = json.loads((out / "fleet.json").read_text())
    assert 0 < merged["machine_saturated_s"] <= merged["duration_s"]
    warnings = [line for line in result.stderr.splitlines() if "CPUs were at least" in line]
    assert len(warnings) == 1 and warnings[0].startswith("warning:"), warnings
