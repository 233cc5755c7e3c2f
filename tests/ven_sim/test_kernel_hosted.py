"""A kernel hosted by a network loop: its steps and actors on the loop's thread.

A fleet worker runs this way: one thread for its actors and its MQTT clients. The loops
here are real (`NetworkLoop`), with no clients: only the guest's rounds.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from actors.runtime import Dispatcher
from tests.ven_sim.test_kernel import Log as KernelLog
from tests.ven_sim.test_kernel import blocking_gets_refused
from ven_sim.kernel import Kernel
from ven_sim.transports.netloop import NetworkLoop


class Log(KernelLog):
    """Notes each message with the simulated time and the thread that handled it."""

    def on_receive(self, message: Any) -> Any:
        self.seen.append((self.kernel.now, message, threading.current_thread().name))


@pytest.fixture
def loop() -> Iterator[NetworkLoop]:
    loop = NetworkLoop("hosting-loop").start()
    yield loop
    loop.stop()


def _ticker(kernel: Kernel, log: Any):
    while True:
        yield kernel.env.timeout(10.0)
        log.tell("tick")


def _idle(kernel: Kernel):
    while True:
        yield kernel.env.timeout(3600.0)


def test_steps_and_actors_run_on_the_loop_thread_and_take_work_from_others(
        loop: NetworkLoop) -> None:
    dispatcher = Dispatcher("hosted")
    kernel = Kernel(100.0, dispatcher)  # 100 simulated seconds per wall second
    seen: list = []
    log = Log.start(dispatcher, kernel, seen)
    kernel.env.process(_ticker(kernel, log))
    threading.Timer(0.2, lambda: log.tell("told from a thread")).start()
    threading.Timer(0.3, lambda: kernel.call_soon_threadsafe(
        lambda: log.tell("handed in from a thread"))).start()

    wall = kernel.run_hosted(50.0, loop)

    assert 0.4 <= wall < 5.0  # 50 simulated seconds at 100x: generous bounds
    assert [t for t, m, _ in seen if m == "tick"] == [10.0, 20.0, 30.0, 40.0, 50.0]
    assert {m for _, m, _ in seen} == {"tick", "told from a thread", "handed in from a thread"}
    assert {thread for _, _, thread in seen} == {"hosting-loop"}
    assert kernel.now == 50.0
    assert dispatcher.waker is None  # unhosted: the next run may be on any thread
    log.stop(block=False)
    dispatcher.run_until_idle()  # the caller drives it again once the hosted run is over
    assert loop.running


def test_a_hosted_step_waits_for_the_settling_of_the_one_before(loop: NetworkLoop) -> None:
    """The same order as `Kernel.run`: a round's deadline may split the actors' work, never
    let a step run ahead of it."""
    dispatcher = Dispatcher("order")
    kernel = Kernel(1000.0, dispatcher)
    seen: list = []
    log = Log.start(dispatcher, kernel, seen)

    def burst():
        for n in range(20):
            yield kernel.env.timeout(1.0)
            for k in range(500):  # more than a round's slice may handle
                log.tell((n, k))

    kernel.env.process(burst())
    kernel.run_hosted(25.0, loop)
    assert [m for _, m, _ in seen] == [(n, k) for n in range(20) for k in range(500)]
    assert [t for t, _, _ in seen] == [float(n + 1) for n in range(20) for _ in range(500)]
    log.stop(block=False)
    dispatcher.run_until_idle()


def test_stop_from_another_thread_ends_a_hosted_run(loop: NetworkLoop) -> None:
    kernel = Kernel(1.0, Dispatcher("stop"))
    kernel.env.process(_idle(kernel))
    threading.Timer(0.2, kernel.stop).start()
    start = time.monotonic()
    kernel.run_hosted(7200.0, loop)
    assert time.monotonic() - start < 5.0
    assert loop.running


def test_an_error_in_a_hosted_step_is_raised_by_run_hosted_and_the_loop_runs_on(
        loop: NetworkLoop) -> None:
    kernel = Kernel(100.0, Dispatcher("error"))

    def failing():
        yield kernel.env.timeout(1.0)
        raise ValueError("a broken simpy process")

    kernel.env.process(failing())
    with pytest.raises(ValueError, match="broken simpy process"):
        kernel.run_hosted(10.0, loop)
    assert loop.running
    assert kernel.dispatcher.waker is None


def test_a_blocking_get_on_the_hosted_thread_raises_instead_of_hanging(
        loop: NetworkLoop) -> None:
    errors = blocking_gets_refused(Kernel(100.0, Dispatcher("gets")),
                                   lambda kernel: kernel.run_hosted(5.0, loop))
    assert len(errors) == 1


def test_a_hosted_run_ends_with_an_error_if_its_loop_ends() -> None:
    loop = NetworkLoop("short-lived").start()
    kernel = Kernel(1.0, Dispatcher("orphan"))
    kernel.env.process(_idle(kernel))
    threading.Timer(0.2, loop.stop).start()
    with pytest.raises(RuntimeError, match="network loop ended"):
        kernel.run_hosted(7200.0, loop)


def test_an_unpaced_kernel_is_not_hosted(loop: NetworkLoop) -> None:
    with pytest.raises(ValueError, match="speed 'max'"):
        Kernel("max", Dispatcher("max")).run_hosted(10.0, loop)


def test_a_dispatcher_stops_at_its_deadline_with_work_left() -> None:
    dispatcher = Dispatcher("deadline")
    kernel = Kernel("max", dispatcher)
    seen: list = []
    log = Log.start(dispatcher, kernel, seen)
    dispatcher.run_until_idle()  # its start
    for n in range(5000):
        log.tell(n)
    assert dispatcher.run_until_idle(deadline=time.monotonic() - 1.0) < 5000
    assert dispatcher.pending()
    dispatcher.run_until_idle()
    assert [m for _, m, _ in seen] == list(range(5000))
    log.stop(block=False)
    dispatcher.run_until_idle()


@pytest.mark.parametrize("hosted", [False, True], ids=["own thread", "hosted"])
def test_each_paced_step_s_lag_goes_to_the_caller_s_observer(loop: NetworkLoop,
                                                            hosted: bool) -> None:
    """A fleet keeps its lag in a histogram: how late each step started against the wall
    clock. A step that holds the thread 0.3 s makes the next one, due 10 ms later, late."""
    lags: list[float] = []
    kernel = Kernel(100.0, Dispatcher("lag"), on_lag=lags.append)

    def steps():
        yield kernel.env.timeout(1.0)
        time.sleep(0.3)  # the work of a step that took too long
        yield kernel.env.timeout(1.0)
        yield kernel.env.timeout(1.0)

    kernel.env.process(steps())
    if hosted:
        kernel.run_hosted(3.0, loop)
    else:
        kernel.run(3.0)

    assert len(lags) >= 3 and not kernel.lags_s  # the observer took them, not the deque
    assert max(lags) >= 0.25  # the step after the slow one
    assert min(lags) >= 0.0


@pytest.mark.parametrize("hosted", [False, True], ids=["own thread", "hosted"])
def test_a_process_woken_at_a_wall_clock_instant_is_not_early_after_a_late_step(
        loop: NetworkLoop, hosted: bool) -> None:
    """A fleet takes its progress rows just after each wall-clock second. A step that started
    late still reads its due time as `now`, so `now` plus a delay read off `time.time()` came
    early by that lateness; `sim_time_at` does not."""
    kernel = Kernel(1.0, Dispatcher("wall-clock"))
    woke: list[tuple[float, float]] = []  # (time.time() on waking, the instant asked for)
    naive_early_by: list[float] = []

    def wakes():
        yield kernel.env.timeout(0.05)
        time.sleep(0.3)  # this step took too long: the next one starts late
        yield kernel.env.timeout(0.01)
        for _ in range(3):
            target = time.time() + 0.1
            at = kernel.sim_time_at(target)
            naive_early_by.append(at - (kernel.now + (target - time.time())))
            yield kernel.env.timeout(at - kernel.now)
            woke.append((time.time(), target))

    kernel.env.process(wakes())
    if hosted:
        kernel.run_hosted(2.0, loop)
    else:
        kernel.run(2.0)

    assert len(woke) == 3
    assert all(at >= target - 0.001 for at, target in woke)  # (a float epoch's rounding)
    assert naive_early_by[0] >= 0.25  # what the plain delay would have got wrong


def test_sim_time_at_needs_a_paced_run_under_way() -> None:
    with pytest.raises(RuntimeError, match="paced run"):
        Kernel(1.0, Dispatcher("not yet")).sim_time_at(time.time())
