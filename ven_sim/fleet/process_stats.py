"""CPU time and memory, as the fleet's results, its timeline and `bench fleet` report them."""

from __future__ import annotations

import ctypes
import os
import resource
from collections.abc import Callable
from typing import NamedTuple

__all__ = ["CLOCK_TICK_S", "MachineCpu", "StatClock", "busy_percent", "cpu_seconds",
           "machine_cpu", "malloc_in_use_mb", "process_cpu_seconds", "release_free_memory",
           "rss_mb", "stat_clock", "thread_niceness"]

CLOCK_TICK_S = 1.0 / os.sysconf("SC_CLK_TCK")  # /proc counts CPU and start times in these


class StatClock(NamedTuple):
    """A process's or thread's clocks from its /proc stat file, in clock ticks."""

    started: int  # when it started, since boot (field 22)
    cpu: int  # its user and system CPU (fields 14 and 15); a process's includes ended threads'


def _malloc_trim() -> Callable[[int], int] | None:
    try:
        return ctypes.CDLL(None).malloc_trim  # glibc only
    except (AttributeError, OSError):
        return None


_trim = _malloc_trim()


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class MachineCpu(NamedTuple):
    """All of this machine's CPUs since boot, in clock ticks (Linux /proc/stat)."""

    busy: int  # every process's work, the kernel's, and time stolen by a hypervisor
    total: int  # the same with idle and iowait


def machine_cpu() -> MachineCpu | None:
    """The machine's CPU clocks now; None where there is no /proc/stat."""
    try:
        with open("/proc/stat") as stat:
            # cpu user nice system idle iowait irq softirq steal (guest time is in user)
            ticks = [int(field) for field in stat.readline().split()[1:9]]
    except (OSError, ValueError):
        return None
    if len(ticks) < 8:
        return None
    idle = ticks[3] + ticks[4]
    return MachineCpu(sum(ticks) - idle, sum(ticks))


def busy_percent(before: MachineCpu | None, after: MachineCpu | None) -> float | None:
    """How busy the machine's CPUs were between two readings, in % of all of them; None
    without both readings or with no tick between them."""
    if before is None or after is None or after.total <= before.total:
        return None
    return round(100.0 * (after.busy - before.busy) / (after.total - before.total), 1)


def process_cpu_seconds(pid: int) -> float | None:
    """Another running process's CPU seconds (user and system) from Linux /proc; None where
    there is none, or once the process is gone."""
    clock = stat_clock(f"/proc/{pid}/stat")
    return None if clock is None else clock.cpu * CLOCK_TICK_S


def stat_clock(path: str) -> StatClock | None:
    """The clocks in a /proc stat file (`/proc/PID/stat`, `/proc/PID/task/TID/stat`); None
    once it is gone."""
    fields = _stat_fields(path)
    try:
        return None if fields is None else StatClock(int(fields[19]),
                                                     int(fields[11]) + int(fields[12]))
    except (ValueError, IndexError):
        return None


def thread_niceness(pid: int) -> list[int]:
    """The nice value of each of a running process's threads (Linux /proc: a thread's own,
    as the scheduler uses it), in thread id order; empty once the process is gone."""
    try:
        tasks = sorted(os.listdir(f"/proc/{pid}/task"), key=int)
    except OSError:
        return []
    stats = (_stat_fields(f"/proc/{pid}/task/{task}/stat") for task in tasks)
    return [int(fields[16]) for fields in stats if fields is not None]


def _stat_fields(path: str) -> list[str] | None:
    """A /proc stat file's fields after the command's name (field 3 on: state first)."""
    try:
        with open(path) as stat:
            return stat.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def rss_mb() -> float:
    """Current resident memory (Linux /proc), else the peak from getrusage."""
    try:
        with open("/proc/self/statm") as statm:
            pages = int(statm.read().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError, IndexError):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class _MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in (
        "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks",
        "fordblks", "keepcost")]


def malloc_in_use_mb() -> float | None:
    """Bytes glibc's malloc has handed out (`mallinfo2`: small blocks and mmapped ones)."""
    try:
        mallinfo2 = ctypes.CDLL(None).mallinfo2
    except (AttributeError, OSError):
        return None
    mallinfo2.restype = _MallInfo2
    info = mallinfo2()
    return (info.uordblks + info.hblkhd) / 2**20


def release_free_memory() -> None:
    """Hand the pages malloc holds free back to the OS (glibc; elsewhere nothing).

    Connecting leaves holes between the connections' live memory: each TLS handshake's
    scratch, and with TLS 1.3 a 16 KB read buffer per VEN until its first message. glibc
    keeps those pages resident for reuse (1,000 TLS 1.3 connections: 7.5 KB each).
    """
    if _trim is not None:
        _trim(0)  # ctypes lets go of the GIL: the other threads go on meanwhile
