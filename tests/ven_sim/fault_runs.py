"""Scenarios for the fault tests: runs of the shipped broker-outage scenario and its variants
on the in-process broker, watched from a backend client, and the short paced scenario the
real-broker fault tests start from."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sim.scenario_loader import load_scenario
from ven_sim.runner import RunResult, run_scenario
from ven_sim.wire import open_wire

from .test_run_wire import SHORT

ROOT = Path(__file__).resolve().parents[2]
OUTAGE = ROOT / "scenarios" / "broker_outage.yaml"

Run = tuple[RunResult, list[dict[str, Any]]]

# The wire tests' 3 h scenario paced for a real broker, and cut to 2h15m: its event (+1h to
# +2h) still ends inside the run, and 45 minutes follow a fault ending at +90m (a VEN back
# only after the last simulated second is still waited for and dated, see await_links).
assert "\nduration: 3h\n" in SHORT and "\nspeed: max\n" in SHORT
PACED_S = 135 * 60
PACED = SHORT.replace("\nspeed: max\n", "\nspeed: 1200\n").replace(
    "\nduration: 3h\n", "\nduration: 2h15m\n")
PACED_START = 1784116800  # 2026-07-15T12:00:00Z, SHORT's start
PACED_REPORTS = [PACED_START + 300 * n for n in range(1, PACED_S // 300 + 1)]  # 5 min


def run(path: Path, watch: str | None = None, acks: list[dict[str, Any]] | None = None) -> Run:
    """Run `path` on the in-process broker; with `watch`, that VEN's telemetry as seen; with
    `acks`, every event ack as seen is appended to it."""
    wire = open_wire("inprocess")
    seen: list[dict[str, Any]] = []
    if watch is not None:
        backend = wire.transport.open("backend", lambda _t, p: seen.append(json.loads(p)))
        backend.subscribe(f"ven/telemetry/{watch}")
    if acks is not None:
        wire.transport.open("backend-acks", lambda _t, p: acks.append(json.loads(p))).subscribe(
            "ven/ack/+")
    try:
        return run_scenario(load_scenario(path), wire=wire), seen
    finally:
        wire.close()


def calm_scenario(directory: Path) -> Path:
    """The shipped scenario without its faults: the counterfactual every fault is held to."""
    path = directory / "calm.yaml"
    text = OUTAGE.read_text()
    path.write_text(text[: text.index("faults:")])
    return path


def ending_after_the_event(path: Path) -> Path:
    """`path` with its day cut at 17:00, when the event (15:00-17:00) and the fault are over:
    for tests whose assertions need nothing of the evening."""
    text = path.read_text()
    assert "\nduration: 24h\n" in text
    path.write_text(text.replace("\nduration: 24h\n", "\nduration: 17h\n"))
    return path


def crash_scenario(tmp_path: Path, target: str = "homes") -> Path:
    path = tmp_path / "crash.yaml"
    path.write_text(OUTAGE.read_text().replace(
        "kind: broker_outage", f"kind: ven_crash\n    target: {target}"))
    return path
