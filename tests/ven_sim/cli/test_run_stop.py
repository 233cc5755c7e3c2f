"""`ven-sim run` stopped by Ctrl-C or SIGTERM, and its output folder checked before the run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.ven_sim.test_signals import TIMEOUT_S
from ven_sim.cli import main
from ven_sim.output import clean_stale_staging

# Long enough that no machine finishes it before the signal: 120 days of 40 VENs.
LONG = """\
name: long
seed: 5
start: 2026-07-15T00:00:00Z
duration: 120d
speed: max
report_interval: 5m
physics_step: 60s
weather: {min_c: 20, max_c: 32}
fleet:
  - name: homes
    template: house
    count: 40
events:
  - id: early
    start: "+2h"
    duration: 1h
    requested_kw: 20
  - id: late
    start: "+100d"
    duration: 1h
    requested_kw: 20
"""
STOP_WITHIN_S = 5.0  # from the signal to the exit, files written; about 1 s unloaded


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=lambda s: s.name)
def test_a_signal_stops_a_speed_max_run_and_keeps_what_was_simulated(
        sig: signal.Signals, tmp_path: Path) -> None:
    scenario, out = tmp_path / "long.yaml", tmp_path / "out"
    scenario.write_text(LONG)
    proc = subprocess.Popen(
        [sys.executable, "-m", "ven_sim", "run", str(scenario), "--out", str(out)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    seen: list[str] = []
    running = threading.Event()

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            seen.append(line)
            if line.startswith("running long"):
                running.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        assert running.wait(TIMEOUT_S), "".join(seen)
        time.sleep(1.0)  # into the simulation; a signal before it ends the run the same way
        sent = time.monotonic()
        proc.send_signal(sig)
        returncode = proc.wait(timeout=TIMEOUT_S)
        took = time.monotonic() - sent
        reader.join(TIMEOUT_S)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    output = "".join(seen)
    assert returncode == 130, output
    assert len(seen) == 2 and seen[1].startswith("interrupted at "), output  # one line
    assert took < STOP_WITHIN_S, f"{took:.2f} s"
    summary = json.loads((out / "summary.json").read_text())
    assert summary["interrupted_at"] < "2026-11-12"  # 120 days would end on 2026-11-12
    assert summary["events"][-1]["interrupted"] is True
    rows = (out / "timeseries.csv").read_text().splitlines()
    assert len(rows) > 1 and not (out / "report.png").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_an_unwritable_out_is_refused_before_the_run(tmp_path: Path) -> None:
    # A file where a folder must go: unwritable even for root, which ignores permissions.
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    scenario = tmp_path / "long.yaml"
    scenario.write_text(LONG)
    began = time.monotonic()
    result = CliRunner().invoke(main, ["run", str(scenario), "--out", str(blocker / "o")])
    assert time.monotonic() - began < 10.0  # refused up front, not after 120 days
    assert result.exit_code == 1
    assert f"cannot write results to {blocker / 'o'}: Not a directory" in result.output
    assert "Traceback" not in result.output


def test_staging_folders_of_killed_runs_are_cleaned(tmp_path: Path) -> None:
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    stale = tmp_path / f".out.staging-{dead.stdout.strip()}-abc123"
    mine = tmp_path / f".out.staging-{os.getpid()}-def456"
    for folder in (stale, mine):
        folder.mkdir()
        (folder / "summary.json").write_text("{}")
    assert clean_stale_staging(tmp_path) == [stale]
    assert not stale.exists() and mine.exists()
