"""Every process's and thread's CPU in a window of a bench run, read from Linux /proc.

`CpuSampler` reads the CPU clock (user and system) of every thread of the bench's process and
of all its descendants (mosquitto, the shadow service, the fleet's parent and its workers)
`SAMPLES_PER_S` times a second, each reading stamped before and after it. `window(began,
ended)` then gives each process's CPU seconds between the readings that enclose the window,
and its threads' (the main thread first): what every process took from the cores while, say,
a fan-out was in flight. The kernel counts in clock ticks (10 ms here), so a thread's figure
is exact to a tick; `sampler_cpu_s_per_s` is what the readings cost the bench.
"""

from __future__ import annotations

import os
import threading
import time
from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from typing import Any

from ven_sim.fleet.process_stats import CLOCK_TICK_S, stat_clock

__all__ = ["SAMPLES_PER_S", "CpuSampler", "process_role"]

SAMPLES_PER_S = 20
DISCOVER_EVERY = 20  # readings between two looks for new descendants

Clocks = dict[tuple[int, int], int]  # (pid, tid) -> CPU clock ticks


def boot_clock() -> float:
    """Seconds since boot: what the readings are stamped with. It never steps back (unlike
    the wall clock), so the stamps stay in order."""
    return time.clock_gettime(time.CLOCK_BOOTTIME)


@dataclass(frozen=True)
class Reading:
    """The clocks read at one time, stamped (`boot_clock`) before the first file was opened
    and after the last: what they count was spent before `ended`, and what was spent after
    `began` is not all in them."""

    began: float
    ended: float
    clocks: Clocks


def process_role(pid: int, own_pid: int) -> str | None:
    """What a process of a bench run is, from its command line: `bench`, `mosquitto`,
    `shadow service`, `fleet parent`, `worker i`, else the program's name; None once gone."""
    if pid == own_pid:
        return "bench"
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
            # Each argument ends with a NUL, the last one too.
            argv = cmdline.read().decode(errors="replace").removesuffix("\0").split("\0")
    except OSError:
        return None
    if not argv[0]:  # a process that has ended (a zombie) has no command line
        return None
    shard = _shard_option(argv)
    if shard is not None:
        return f"worker {shard.split('/')[0]}"
    if "shadow-service" in argv:
        return "shadow service"
    if "fleet" in argv:
        return "fleet parent"
    return os.path.basename(argv[0])


def _shard_option(argv: list[str]) -> str | None:
    """The value of `--shard I/N` or `--shard=I/N` in a command line; None without one (or
    with `--shard` last, no value)."""
    for at, arg in enumerate(argv):
        if arg == "--shard" and at + 1 < len(argv):
            return argv[at + 1]
        if arg.startswith("--shard="):
            return arg.removeprefix("--shard=")
    return None


class CpuSampler:
    """Samples the CPU clocks of `root` (this process by default) and its descendants, on a
    thread of its own, from `start()` to `stop()`."""

    def __init__(self, root: int | None = None, samples_per_s: float = SAMPLES_PER_S,
                 discover_every: int = DISCOVER_EVERY) -> None:
        self.root = os.getpid() if root is None else root
        self.interval_s = 1.0 / samples_per_s
        self.discover_every = discover_every
        self.readings: list[Reading] = []
        self.roles: dict[int, str] = {}
        self._pids: list[int] = []
        self.own_cpu_s = 0.0  # what the readings cost, on this process's sampling thread
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> CpuSampler:
        self._thread = threading.Thread(target=self._run, name="cpu-sampler", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def __enter__(self) -> CpuSampler:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def sample(self) -> Reading:
        """One reading, after a look for new descendants every `discover_every` readings:
        what the sampling thread does `samples_per_s` times a second."""
        if len(self.readings) % self.discover_every == 0:
            self._discover()
        reading = self._read()
        self.readings.append(reading)
        return reading

    def _run(self) -> None:
        next_at = time.monotonic()
        while not self._stop.is_set():
            self.sample()
            self.own_cpu_s = time.thread_time()
            next_at += self.interval_s
            self._stop.wait(max(0.0, next_at - time.monotonic()))

    def _discover(self) -> None:
        """The root and its descendants now alive (a new one is first read from here on), and
        what each is (again each time: a child just forked still has its parent's command)."""
        found, queue = [], [self.root]
        while queue:
            pid = queue.pop()
            found.append(pid)
            queue.extend(_children(pid))
        for pid in found:
            role = process_role(pid, self.root)
            if role is not None:  # a process that just ended keeps what it was
                self.roles[pid] = role
        self._pids = found

    def _read(self) -> Reading:
        began = boot_clock()
        clocks: Clocks = {}
        for pid in self._pids:
            try:
                tids = os.listdir(f"/proc/{pid}/task")
            except OSError:
                continue
            for tid in tids:
                clock = stat_clock(f"/proc/{pid}/task/{tid}/stat")
                if clock is not None:
                    clocks[(pid, int(tid))] = clock.cpu
        return Reading(began, boot_clock(), clocks)

    def window(self, began: float, ended: float) -> dict[str, Any] | None:
        """Each process's CPU seconds from the last reading done by `began` to the first
        begun at or after `ended`, as {role: {"cpu_s", "threads": [cpu_s, ...]}}, the main
        thread first, then in thread id order (idle ones too: their places tell them apart);
        None if the readings do not cover it.

        `began` and `ended` are on the wall clock (epoch seconds), as fleet.json's
        `fanout_window` gives them from another process; they are moved onto the readings'
        clock once, here, so a step of the wall clock in between does not reorder them."""
        readings = list(self.readings)  # the sampling thread may add one meanwhile
        to_boot_clock = boot_clock() - time.time()
        first = bisect_right([r.ended for r in readings], began + to_boot_clock) - 1
        last = bisect_left([r.began for r in readings], ended + to_boot_clock)
        if first < 0 or last >= len(readings):
            return None
        start, end = readings[first], readings[last]
        threads: dict[str, list[tuple[int, float]]] = {}
        for (pid, tid), ticks in end.clocks.items():
            spent = (ticks - start.clocks.get((pid, tid), 0)) * CLOCK_TICK_S
            order = -1 if tid == pid else tid
            threads.setdefault(self.roles.get(pid, f"pid {pid}"), []).append((order, spent))
        processes = {
            role: {"cpu_s": round(sum(s for _, s in spent), 2),
                   "threads": [round(s, 2) for _, s in sorted(spent)]}
            for role, spent in sorted(threads.items())
        }
        seconds = end.ended - start.began  # all that the two readings can count
        sampled_s = readings[-1].ended - readings[0].began
        return {"window_s": round(ended - began, 3), "read_over_s": round(seconds, 3),
                "sampler_cpu_s_per_s": round(self.own_cpu_s / sampled_s, 4),
                "cores": round(sum(p["cpu_s"] for p in processes.values()) / seconds, 2)
                if seconds > 0 else None,
                "processes": processes}


def _children(pid: int) -> list[int]:
    """The processes `pid`'s threads have started (each thread lists its own)."""
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return []  # the process has ended
    children: list[int] = []
    for tid in tids:
        try:
            with open(f"/proc/{pid}/task/{tid}/children") as listing:
                children.extend(int(child) for child in listing.read().split())
        except OSError:
            continue  # a thread that ended since the listing: the others still count
    return children

