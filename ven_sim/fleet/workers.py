"""`--workers K`: K processes on this machine, one shard each, started and stopped from here.

Worker i is `ven-sim fleet ... --shard i/K --out OUT/shard-i`: its IDs are slice i of the
fleet's range (disjoint by construction) and its folder is a sibling of the others' (their
claims are checked against each other). Each worker reports its live row as a JSON line on
stderr once a second; this process shows them as one line. Workers run in their own process
group, so a Ctrl-C on the terminal reaches this process only, which passes one SIGINT to each:
every worker stops cleanly and writes its results, and then the fleet's are merged from them.
They stay in this process's session: Linux's scheduler (autogroup) shares the cores between
sessions first, so a session per worker would give each worker the share of everything else
started from here (the bench's broker and shadow service) and leave `nice` on those useless.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from ven_sim.fleet.combined import combine_rows, load_part, write_merged
from ven_sim.fleet.runner import progress_line
from ven_sim.signals import StopSignals

__all__ = ["Worker", "run_workers", "shard_folder", "shard_metrics_port", "worker_command"]

TAIL_LINES = 20  # a failed worker's last stderr lines, for the error
POLL_S = 1.0  # one combined progress line a second


def shard_folder(out: Path, index: int) -> Path:
    return out / f"shard-{index}"


@dataclass
class Worker:
    index: int
    process: subprocess.Popen[str]
    latest: dict[str, Any] | None = None  # its last progress row
    tail: deque[str] = field(default_factory=lambda: deque(maxlen=TAIL_LINES))

    def read_stderr(self, stream: IO[str], echo: Callable[[str], None]) -> None:
        """The reader thread: JSON rows become `latest`, other lines are passed on."""
        for line in stream:
            text = line.rstrip("\n")
            if text.startswith("{"):
                try:
                    self.latest = json.loads(text)
                    continue
                except ValueError:
                    pass
            if text:
                self.tail.append(text)
                echo(f"[shard {self.index}] {text}")


def run_workers(
    command: Callable[[int], list[str]],
    count: int,
    out: Path,
    *,
    target: int,
    progress: Callable[[str], None] | None = None,
    echo: Callable[[str], None] = print,
) -> tuple[dict[str, Any], list[str]]:
    """Run `command(i)` for i < count until all end; returns the merged results and the
    errors of workers that failed (their shards are merged without them)."""
    out.mkdir(parents=True, exist_ok=True)
    workers: list[Worker] = []
    readers = []
    with StopSignals() as signals:
        for index in range(count):
            folder = shard_folder(out, index)
            folder.mkdir(parents=True, exist_ok=True)
            with (folder / "stdout.log").open("w") as log:
                process = subprocess.Popen(
                    command(index), stdin=subprocess.DEVNULL, stdout=log,
                    stderr=subprocess.PIPE, text=True,
                    # Ctrl-C on the terminal reaches us only; our session: above. Not the
                    # terminal's input: a background group reading it would be stopped.
                    process_group=0,
                )
            worker = Worker(index, process)
            assert process.stderr is not None
            reader = threading.Thread(target=worker.read_stderr, args=(process.stderr, echo),
                                      name=f"fleet-worker-{index}", daemon=True)
            reader.start()
            workers.append(worker)
            readers.append(reader)
        _supervise(workers, signals, target, progress)
    for reader in readers:
        reader.join(timeout=10)
    errors = [f"shard {w.index}/{count} exited with {w.process.returncode}: "
              + (w.tail[-1] if w.tail else "no output")
              for w in workers if w.process.returncode != 0]
    loaded = [part for w in workers if (part := load_part(shard_folder(out, w.index)))]
    if not loaded:
        raise RuntimeError("no worker wrote results: " + "; ".join(errors))
    merged = write_merged(out, [p for p, _ in loaded], [rows for _, rows in loaded],
                          target=target)
    return merged, errors


def _supervise(workers: list[Worker], signals: StopSignals, target: int,
               progress: Callable[[str], None] | None) -> None:
    """Until every worker has ended: the combined line, and one SIGINT each on a stop (ours,
    or a worker that failed: the fleet is no longer the one asked for)."""
    stopping, shown = False, ""
    while any(w.process.poll() is None for w in workers):
        signals.wait(POLL_S)
        failed = any(w.process.returncode not in (None, 0) for w in workers)
        if (signals.requested or failed) and not stopping:
            stopping = True
            for worker in workers:
                if worker.process.poll() is None:
                    worker.process.send_signal(signal.SIGINT)
        rows = [w.latest for w in workers if w.latest is not None]
        line = rows and (progress_line(combine_rows(rows), target)
                         + f"  workers {len(rows)}/{len(workers)}")
        if progress is not None and line and line != shown and not stopping:
            progress(line)  # not again while the workers shut down and their rows stand still
            shown = line


def shard_metrics_port(port: int | None, index: int) -> int | None:
    """Shard i serves Prometheus on P+i (0: each takes a free port)."""
    return None if port is None else (port + index if port else 0)


def worker_command(argv: list[str], index: int, count: int, out: Path,
                   metrics_port: int | None) -> list[str]:
    """`ven-sim fleet` for worker `index`: the fleet's options plus its shard and folder."""
    command = [sys.executable, "-m", "ven_sim", "fleet", *argv, "--shard", f"{index}/{count}",
               "--out", str(shard_folder(out, index)), "--progress-json"]
    port = shard_metrics_port(metrics_port, index)
    if port is not None:
        command += ["--metrics-port", str(port)]
    return command
