"""`CpuSampler`: every process's and thread's CPU in a window, read from /proc, against what
/proc says of a real child process that burns CPU inside the window and then idles."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time

import pytest

from ven_sim.bench import cpu_window
from ven_sim.bench.cpu_window import CpuSampler, ProcessClocks, Reading, boot_clock, process_role
from ven_sim.fleet.process_stats import CLOCK_TICK_S, StatClock, process_cpu_seconds

# Burns about 0.2 s of CPU, says so, then idles until its input closes. Its arguments make it
# a worker by its command line, as `ven-sim fleet --shard 1/2` is.
BURNER = ("import sys, time\n"
          "while time.process_time() < 0.2: pass\n"
          "print('done', flush=True)\n"
          "sys.stdin.read()\n")
# Says it is up, then on each line of input runs a thread that spins for 0.3 s of its own CPU
# and ends, and says when it has.
SPINNER = ("import sys, threading, time\n"
           "def spin():\n"
           "    while time.thread_time() < 0.3: pass\n"
           "print('up', flush=True)\n"
           "for _ in sys.stdin:\n"
           "    thread = threading.Thread(target=spin)\n"
           "    thread.start()\n"
           "    thread.join()\n"
           "    print('done', flush=True)\n")
TWO_TICKS_S = 0.02  # /proc rounds user and system time down to a tick (10 ms) each


def test_a_childs_cpu_in_the_window_is_what_proc_counts() -> None:
    idle = threading.Event()
    idler = threading.Thread(target=idle.wait, name="idle through the window")
    idler.start()
    with CpuSampler(discover_every=1) as sampler:  # a child of a second is found at once
        while not sampler.readings:  # a reading before the window
            time.sleep(0.01)
        began = time.time()
        child = subprocess.Popen([sys.executable, "-c", BURNER, "fleet", "--shard", "1/2"],
                                 stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        try:
            assert child.stdout is not None and child.stdout.readline() == "done\n"
            ended = time.time()
            # One in progress now may have begun before `ended`: the one after it has not.
            readings = len(sampler.readings)
            while len(sampler.readings) < readings + 2:
                time.sleep(0.01)
            spent = process_cpu_seconds(child.pid)
            own_threads = len(os.listdir("/proc/self/task"))
        finally:
            child.communicate("")
    idle.set()
    idler.join()
    window = sampler.window(began, ended)
    assert window is not None
    worker = window["processes"]["worker 1"]
    # Started inside the window and idle at its end: all its CPU is the window's.
    assert spent is not None and spent >= 0.18  # /proc counts whole ticks (10 ms)
    assert worker["cpu_s"] == round(spent, 2)
    assert worker["cpu_s"] == round(sum(worker["threads"]) + worker["ended_threads_cpu_s"], 2)
    assert worker["unread_s"] == 0.0  # new in the window: counted from zero
    # This process, the sampler's root: every thread, the idle one too (listed as 0.0).
    bench = window["processes"]["bench"]
    assert len(bench["threads"]) == own_threads and 0.0 in bench["threads"]
    assert window["read_over_s"] >= window["window_s"] > 0
    assert sampler.window(began - 3600, ended) is None  # before the first reading


@pytest.mark.parametrize(("args", "role"), [
    (["fleet", "--shard", "1/2"], "worker 1"),
    (["fleet", "--shard=3/4"], "worker 3"),
    (["fleet", "--shard"], "fleet parent"),  # no value: not a worker, and no IndexError
    (["shadow-service"], "shadow service"),
])
def test_a_process_role_is_read_from_its_command_line(args: list[str], role: str) -> None:
    child = subprocess.Popen([sys.executable, "-c", "input()", *args], stdin=subprocess.PIPE)
    try:
        # Forked, the child has this process's command line until it execs.
        for _ in range(1000):
            if process_role(child.pid, os.getpid()) == role:
                break
            time.sleep(0.01)
        assert process_role(child.pid, os.getpid()) == role
    finally:
        child.communicate(b"\n", timeout=10)
    assert process_role(child.pid, os.getpid()) is None  # gone
    assert process_role(os.getpid(), os.getpid()) == "bench"


def test_a_thread_that_ends_while_children_are_listed_hides_no_other_threads_child(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The listing of this process's threads taken a moment before one of them ended: that
    thread's files are gone, and the child the main thread started is still found."""
    ended = threading.Thread(target=lambda: None)
    ended.start()
    ended.join()
    assert ended.native_id is not None
    listdir = os.listdir

    def listing_before_it_ended(path: str) -> list[str]:
        listed = listdir(path)
        return [str(ended.native_id), *listed] if path.endswith("/task") else listed

    child = subprocess.Popen([sys.executable, "-c", "input()"], stdin=subprocess.PIPE)
    try:
        monkeypatch.setattr(cpu_window.os, "listdir", listing_before_it_ended)
        assert child.pid in cpu_window._children(os.getpid())  # noqa: SLF001
    finally:
        child.communicate(b"\n", timeout=10)


def _only_thread_left(pid: int) -> None:
    """Joined, a thread may linger in /proc a moment while the kernel finishes its exit."""
    for _ in range(1000):  # 10 s at most
        if os.listdir(f"/proc/{pid}/task") == [str(pid)]:
            return
        time.sleep(0.01)


def test_a_thread_that_ends_in_the_window_keeps_its_cpu_there() -> None:
    """A worker's thread spins 0.3 s and ends between the window's two readings: the
    worker's CPU in the window is what /proc counts for the process (ended threads
    included), and that thread's share is under `ended_threads_cpu_s`."""
    child = subprocess.Popen([sys.executable, "-c", SPINNER, "fleet", "--shard", "0/2"],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdin is not None and child.stdout is not None
        assert child.stdout.readline() == "up\n"
        sampler = CpuSampler(discover_every=1)
        sampler.sample()  # the start reading: the child found, idle
        before = process_cpu_seconds(child.pid)
        began = time.time()
        child.stdin.write("spin\n")
        child.stdin.flush()
        assert child.stdout.readline() == "done\n"
        _only_thread_left(child.pid)
        ended = time.time()
        sampler.sample()  # the end reading
        after = process_cpu_seconds(child.pid)
    finally:
        child.communicate("")
    window = sampler.window(began, ended)
    assert window is not None and before is not None and after is not None
    worker = window["processes"]["worker 0"]
    assert worker["cpu_s"] == round(after - before, 2)
    assert len(worker["threads"]) == 1  # the main thread: the spinner has ended
    assert worker["ended_threads_cpu_s"] >= 0.3 - TWO_TICKS_S
    assert worker["cpu_s"] == round(sum(worker["threads"]) + worker["ended_threads_cpu_s"], 2)


def test_a_process_found_late_counts_from_zero_only_if_it_started_in_the_window() -> None:
    """Descendants are looked for every few readings. One found by a later look that had
    started before the window is counted from its first reading (its CPU before then is not
    the window's), with how long it went unread; one started in the window, from zero."""
    sampler = CpuSampler(discover_every=3)
    sampler.sample()  # reading 0, a look for descendants: none yet
    older = subprocess.Popen([sys.executable, "-c", BURNER, "fleet", "--shard", "0/2"],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    newer = None
    try:
        assert older.stdout is not None and older.stdout.readline() == "done\n"
        start = sampler.sample()  # reading 1, the window's start: `older` not looked for
        began = time.time()
        newer = subprocess.Popen([sys.executable, "-c", BURNER, "fleet", "--shard", "1/2"],
                                 stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert newer.stdout is not None and newer.stdout.readline() == "done\n"
        sampler.sample()  # reading 2
        found = sampler.sample()  # reading 3, a look: both found, both idle now
        ended = time.time()
        sampler.sample()  # the end reading
        newer_spent = process_cpu_seconds(newer.pid)
    finally:
        for child in (older, newer):
            if child is not None:
                child.communicate("")
    window = sampler.window(began, ended)
    assert window is not None and newer_spent is not None
    late, new = window["processes"]["worker 0"], window["processes"]["worker 1"]
    assert late == {"cpu_s": 0.0, "threads": [0.0], "ended_threads_cpu_s": 0.0,
                    "unread_s": round(found.began - start.began, 3)}
    assert late["unread_s"] > 0
    assert newer_spent >= 0.2 - TWO_TICKS_S
    assert new["cpu_s"] == round(newer_spent, 2) and new["unread_s"] == 0.0


def test_an_id_taken_by_a_new_process_or_thread_counts_the_new_one_from_zero() -> None:
    """The kernel reuses process and thread IDs. Readings as /proc would give them (an ID
    reused in a window cannot be made to happen on demand): a thread ID reused (another
    start time), a process ended and its ID taken by a new one, and an ID reused within
    the same tick (the same start time, fewer ticks). Each new one counts from zero: no
    negative CPU."""
    now = boot_clock()
    old, new = int((now - 100) / CLOCK_TICK_S), int((now - 0.5) / CLOCK_TICK_S)

    def clocks(process: tuple[int, int], **threads: tuple[int, int]) -> ProcessClocks:
        return ProcessClocks(StatClock(*process),
                             {int(tid[1:]): StatClock(*clock) for tid, clock in threads.items()})

    sampler = CpuSampler()
    sampler.roles = {4000: "worker 0", 5000: "worker 1", 6000: "worker 2"}
    sampler.readings = [
        Reading(now - 1.0, now - 0.99, {
            4000: clocks((old, 500), t4000=(old, 400), t4001=(old, 100)),
            5000: clocks((old, 300), t5000=(old, 300)),
            6000: clocks((new, 80), t6000=(new, 80))}),
        Reading(now - 0.6, now - 0.59, {
            4000: clocks((old, 520), t4000=(old, 410), t4001=(old, 110))}),  # 5000 ended
        Reading(now - 0.2, now - 0.19, {
            4000: clocks((old, 560), t4000=(old, 420), t4001=(new, 15)),
            5000: clocks((new, 20), t5000=(new, 20)),
            6000: clocks((new, 30), t6000=(new, 30))}),
    ]
    to_epoch = time.time() - boot_clock()
    window = sampler.window(now - 0.9 + to_epoch, now - 0.3 + to_epoch)
    assert window is not None
    assert window["processes"] == {
        # Thread 4001 reused: the new one's 15 ticks; the old one's share of the process's
        # 60 after the start reading is among the ended threads'.
        "worker 0": {"cpu_s": 0.6, "threads": [0.2, 0.15], "ended_threads_cpu_s": 0.25,
                     "unread_s": 0.0},
        "worker 1": {"cpu_s": 0.2, "threads": [0.2], "ended_threads_cpu_s": 0.0,
                     "unread_s": 0.0},
        "worker 2": {"cpu_s": 0.3, "threads": [0.3], "ended_threads_cpu_s": 0.0,
                     "unread_s": 0.0},
    }
