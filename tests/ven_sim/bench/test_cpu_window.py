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
from ven_sim.bench.cpu_window import CpuSampler, process_role
from ven_sim.fleet.process_stats import process_cpu_seconds

# Burns about 0.2 s of CPU, says so, then idles until its input closes. Its arguments make it
# a worker by its command line, as `ven-sim fleet --shard 1/2` is.
BURNER = ("import sys, time\n"
          "while time.process_time() < 0.2: pass\n"
          "print('done', flush=True)\n"
          "sys.stdin.read()\n")


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
    assert worker["cpu_s"] == round(sum(worker["threads"]), 2)
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
