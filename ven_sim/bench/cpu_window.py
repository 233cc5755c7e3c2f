"""Every process's and thread's CPU in a window of a bench run, read from Linux /proc.

`CpuSampler` reads the CPU clock (user and system) of every thread of the bench's process and
of all its descendants (mosquitto, the shadow service, the fleet's parent and its workers)
`SAMPLES_PER_S` times a second, each reading stamped before and after it. `window(began,
ended)` then gives each process's CPU seconds between the readings that enclose the window
(its own clock: threads that ended in between count too), and its live threads' (the main
thread first): what every process took from the cores while, say, a fan-out was in flight.
The kernel counts in clock ticks (10 ms here), user and system time each rounded down, so a
figure is exact to two ticks; `sampler_cpu_s_per_s` is what the readings cost the bench.
"""

from __future__ import annotations

import os
import threading
import time
from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from typing import Any

from ven_sim.fleet.process_stats import CLOCK_TICK_S, StatClock, stat_clock

__all__ = ["SAMPLES_PER_S", "CpuSampler", "ProcessClocks", "Reading", "boot_clock", "process_role"]

SAMPLES_PER_S = 20
DISCOVER_EVERY = 20  # readings between two looks for new descendants


def boot_clock() -> float:
    """Seconds since boot: what the readings are stamped with. /proc gives start times on
    this clock, and it never steps back (unlike the wall clock), so the stamps stay in
    order."""
    return time.clock_gettime(time.CLOCK_BOOTTIME)


@dataclass(frozen=True)
class ProcessClocks:
    """A process's clock, which counts its threads that have ended too, and each live
    thread's own."""

    process: StatClock
    threads: dict[int, StatClock]  # thread id -> its clock


@dataclass(frozen=True)
class Reading:
    """The clocks read at one time, stamped (`boot_clock`) before the first file was opened
    and after the last: what they count was spent before `ended`, and what was spent after
    `began` is not all in them."""

    began: float
    ended: float
    processes: dict[int, ProcessClocks]  # pid -> its clocks


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
        processes: dict[int, ProcessClocks] = {}
        for pid in self._pids:
            threads = _thread_clocks(pid)
            process = stat_clock(f"/proc/{pid}/stat")  # after its threads': it counts them
            if process is not None:
                processes[pid] = ProcessClocks(process, threads)
        return Reading(began, boot_clock(), processes)

    def window(self, began: float, ended: float) -> dict[str, Any] | None:
        """Each process's CPU seconds from the last reading done by `began` to the first
        begun at or after `ended`, as {role: {"cpu_s", "threads": [cpu_s, ...],
        "ended_threads_cpu_s", "unread_s"}} (`_spent`), the threads the main one first, then
        in thread id order (idle ones too: their places tell them apart); None if the
        readings do not cover it.

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
        inside = readings[first:last + 1]
        processes: dict[str, dict[str, Any]] = {}
        for pid in sorted({pid for reading in inside for pid in reading.processes}):
            seen = [(reading.began, reading.processes[pid]) for reading in inside
                    if pid in reading.processes]
            role = self.roles.get(pid, f"pid {pid}")
            processes[role if role not in processes else f"{role} (pid {pid})"] = _spent(
                pid, seen, start.began)
        processes = dict(sorted(processes.items()))
        seconds = end.ended - start.began  # all that the two readings can count
        sampled_s = readings[-1].ended - readings[0].began
        return {"window_s": round(ended - began, 3), "read_over_s": round(seconds, 3),
                "sampler_cpu_s_per_s": round(self.own_cpu_s / sampled_s, 4),
                "cores": round(sum(p["cpu_s"] for p in processes.values()) / seconds, 2)
                if seconds > 0 else None,
                "processes": processes}


def _spent(pid: int, seen: list[tuple[float, ProcessClocks]],
           start_at: float) -> dict[str, Any]:
    """A process's CPU seconds in a window from what the window's readings of it saw (each
    one's stamp, and its clocks), `start_at` the stamp of the window's start reading: the
    process's own, each thread's that was alive at its last reading (the main thread first),
    the rest as `ended_threads_cpu_s` (threads that ended in the window), and the seconds
    it ran unread from the window's start (`unread_s`: found by a later look for
    descendants). A process that ended in the window counts to its last reading."""
    ticks, unread_s = _counted([(at, clocks.process) for at, clocks in seen], start_at)
    threads = [_counted([(at, clocks.threads[tid]) for at, clocks in seen
                         if tid in clocks.threads], start_at)[0]
               for tid in sorted(seen[-1][1].threads, key=lambda tid: (tid != pid, tid))]
    # A process's clock and its threads' are each rounded down to a tick by the kernel:
    # their difference can be a tick under zero with no thread ended.
    ended_threads = max(0, ticks - sum(threads))
    return {"cpu_s": round(ticks * CLOCK_TICK_S, 2),
            "threads": [round(spent * CLOCK_TICK_S, 2) for spent in threads],
            "ended_threads_cpu_s": round(ended_threads * CLOCK_TICK_S, 2),
            "unread_s": round(unread_s, 3)}


def _counted(seen: list[tuple[float, StatClock]], start_at: float) -> tuple[int, float]:
    """The CPU ticks a process or thread spent in a window, from what the window's readings
    saw of its ID (each one's stamp, and its clock), and the seconds it went unread from the
    window's start.

    Only the readings since its ID was last taken by a new process or thread count (the
    start time changed, or the ticks went down: the kernel reuses IDs). Counted from the
    window's start reading (stamped `start_at`) if that read it; else from zero if it
    started after (a new clock starts at zero); else (found late, its CPU before then
    unknown) from its first reading."""
    since = len(seen) - 1
    while since > 0 and _same_one(seen[since - 1][1], seen[since][1]):
        since -= 1
    first_at, first = seen[since]
    latest = seen[-1][1]
    if first_at == start_at:  # the very stamp: read by the start reading
        return latest.cpu - first.cpu, 0.0
    if since > 0 or first.started >= int(start_at / CLOCK_TICK_S):  # whole ticks, down
        return latest.cpu, 0.0
    return latest.cpu - first.cpu, first_at - start_at


def _same_one(earlier: StatClock, later: StatClock) -> bool:
    """Whether two readings of an ID are of the same process or thread."""
    return later.started == earlier.started and later.cpu >= earlier.cpu


def _thread_clocks(pid: int) -> dict[int, StatClock]:
    """Each live thread's clock; none once the process has ended."""
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return {}
    clocks = {int(tid): stat_clock(f"/proc/{pid}/task/{tid}/stat") for tid in tids}
    return {tid: clock for tid, clock in clocks.items() if clock is not None}


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

