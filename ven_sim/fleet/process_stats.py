"""CPU time and memory, as the fleet's results, its timeline and `bench fleet` report them."""

from __future__ import annotations

import ctypes
import os
import resource
from collections.abc import Callable

__all__ = ["cpu_seconds", "process_cpu_seconds", "release_free_memory", "rss_mb",
           "thread_niceness"]


def _malloc_trim() -> Callable[[int], int] | None:
    try:
        return ctypes.CDLL(None).malloc_trim  # glibc only
    except (AttributeError, OSError):
        return None


_trim = _malloc_trim()


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def process_cpu_seconds(pid: int) -> float | None:
    """Another running process's CPU seconds (user and system) from Linux /proc; None where
    there is none, or once the process is gone."""
    fields = _stat_fields(f"/proc/{pid}/stat")
    if fields is None:
        return None
    try:
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
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


def release_free_memory() -> None:
    """Hand the pages malloc holds free back to the OS (glibc; elsewhere nothing).

    Connecting leaves holes between the connections' live memory: each TLS handshake's
    scratch, and with TLS 1.3 a 16 KB read buffer per VEN until its first message. glibc
    keeps those pages resident for reuse (1,000 TLS 1.3 connections: 7.5 KB each).
    """
    if _trim is not None:
        _trim(0)  # ctypes lets go of the GIL: the other threads go on meanwhile
