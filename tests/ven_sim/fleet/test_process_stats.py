"""The fleet hands free heap pages back to the OS after its bursts (glibc's malloc_trim)."""

from __future__ import annotations

import os
import random
import subprocess
import sys
import time

import pytest

from ven_sim.fleet import process_stats
from ven_sim.fleet.process_stats import (
    CLOCK_TICK_S,
    MachineCpu,
    busy_percent,
    machine_cpu,
    process_cpu_seconds,
    release_free_memory,
    rss_mb,
    stat_clock,
    thread_niceness,
)


@pytest.mark.skipif(process_stats._trim is None, reason="not glibc: nothing to release")  # noqa: SLF001
def test_free_pages_between_live_blocks_go_back_to_the_os() -> None:
    # Blocks of a handshake's sizes, every other one freed: holes glibc keeps resident.
    rng = random.Random(1)
    blocks = [bytearray(rng.choice((700, 2_000, 16_700))) for _ in range(40_000)]
    del blocks[::2]
    before = rss_mb()
    release_free_memory()
    assert before - rss_mb() > 20.0  # of about 130 MB freed
    assert len(blocks) == 20_000  # the live half stays


def test_another_process_cpu_is_read_while_it_runs_and_none_once_gone() -> None:
    """`bench fleet` reads mosquitto's and the shadow service's CPU this way: a child that
    spins for 0.3 s of CPU has used at least that, and no more than the wall time since it
    was started (plus a clock tick); once reaped, None."""
    started = time.monotonic()
    child = subprocess.Popen([sys.executable, "-c",
                              "import time\nend = time.process_time() + 0.3\n"
                              "while time.process_time() < end: pass\ninput()"],
                             stdin=subprocess.PIPE)
    try:
        used = process_cpu_seconds(child.pid)
        while (used or 0.0) < 0.3 and time.monotonic() - started < 30.0:
            time.sleep(0.05)
            used = process_cpu_seconds(child.pid)
        assert used is not None and 0.3 <= used <= time.monotonic() - started + 0.02
    finally:
        child.communicate(b"\n", timeout=30.0)
    assert process_cpu_seconds(child.pid) is None


def test_every_thread_s_niceness_is_read_and_none_once_gone() -> None:
    """A child that lowers its own priority by 3, then starts a thread (which inherits it):
    both threads read back at this process's niceness plus 3 (capped at 19); once reaped,
    nothing."""
    expected = min(os.nice(0) + 3, 19)
    child = subprocess.Popen([sys.executable, "-c",
                              "import os, threading\nos.nice(3)\n"
                              "threading.Thread(target=input).start()\nprint('up', flush=True)"],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None and child.stdout.readline() == "up\n"
        assert thread_niceness(child.pid) == [expected, expected]
    finally:
        child.communicate("\n", timeout=10)
    assert thread_niceness(child.pid) == []


def test_a_process_start_time_is_on_the_boot_clock_and_its_cpu_counts_its_threads() -> None:
    """`CpuSampler` tells a process started after a reading by its start time against
    CLOCK_BOOTTIME: a child started between two reads of that clock says a time between them
    (to the tick). Its thread that spun 0.2 s and ended is still in the process's CPU."""
    before = time.clock_gettime(time.CLOCK_BOOTTIME)
    child = subprocess.Popen([sys.executable, "-c",
                              "import threading, time\n"
                              "def spin():\n"
                              "    while time.thread_time() < 0.2: pass\n"
                              "thread = threading.Thread(target=spin)\n"
                              "thread.start()\nthread.join()\nprint('up', flush=True)\ninput()"],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    after = time.clock_gettime(time.CLOCK_BOOTTIME)
    try:
        assert child.stdout is not None and child.stdout.readline() == "up\n"
        # Joined, the spinner may linger in /proc a moment while the kernel finishes its exit.
        for _ in range(1000):  # 10 s at most
            if os.listdir(f"/proc/{child.pid}/task") == [str(child.pid)]:
                break
            time.sleep(0.01)
        clock = stat_clock(f"/proc/{child.pid}/stat")
        main_thread = stat_clock(f"/proc/{child.pid}/task/{child.pid}/stat")
    finally:
        child.communicate("\n", timeout=10)
    assert clock is not None and main_thread is not None
    assert int(before / CLOCK_TICK_S) <= clock.started <= after / CLOCK_TICK_S + 1
    assert clock.started == main_thread.started
    # The ended thread's (/proc truncates user and system time to a tick each).
    assert clock.cpu - main_thread.cpu >= 0.2 / CLOCK_TICK_S - 2
    assert stat_clock(f"/proc/{child.pid}/stat") is None


def test_the_machines_busy_share_is_its_work_over_all_ticks_between_two_readings() -> None:
    assert busy_percent(MachineCpu(100, 400), MachineCpu(190, 500)) == 90.0
    assert busy_percent(MachineCpu(100, 400), MachineCpu(100, 400)) is None  # no tick between
    assert busy_percent(None, MachineCpu(1, 2)) is None


@pytest.mark.skipif(not os.path.exists("/proc/stat"), reason="Linux /proc only")
def test_a_busy_process_shows_in_the_machines_reading() -> None:
    before = machine_cpu()
    assert before is not None and 0 < before.busy < before.total
    began = time.process_time()
    while time.process_time() - began < 0.3:  # 0.3 s of one core's work
        pass
    after = machine_cpu()
    assert after is not None and after.busy - before.busy >= 0.25 / CLOCK_TICK_S
    busy = busy_percent(before, after)
    assert busy is not None and 0 < busy <= 100
