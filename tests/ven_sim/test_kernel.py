"""The kernel: simpy owns time, actors settle between steps, other threads queue in."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pykka

from actors.runtime import DispatchedActor, Dispatcher
from ven_sim.kernel import LAG_SAMPLES, Kernel


class Log(DispatchedActor):
    def __init__(self, dispatcher: Dispatcher, kernel: Kernel, seen: list) -> None:
        super().__init__(dispatcher=dispatcher)
        self.kernel = kernel
        self.seen = seen

    def on_receive(self, message: Any) -> Any:
        self.seen.append((self.kernel.now, message))


def test_max_speed_runs_actors_between_steps_in_order() -> None:
    dispatcher = Dispatcher("k")
    kernel = Kernel("max", dispatcher)
    seen: list = []
    log = Log.start(dispatcher, kernel, seen)

    def proc():
        for i in range(5):
            yield kernel.env.timeout(60)
            log.tell(i)

    kernel.env.process(proc())
    kernel.run(1000.0)
    assert seen == [(60.0 * (i + 1), i) for i in range(5)]
    assert kernel.now == 300.0
    log.stop(block=False)
    dispatcher.run_until_idle()


def test_paced_kernel_follows_wall_time_and_takes_work_from_other_threads() -> None:
    dispatcher = Dispatcher("k")
    kernel = Kernel(100.0, dispatcher)  # 100 simulated seconds per wall second
    seen: list = []
    log = Log.start(dispatcher, kernel, seen)
    kernel.env.process(_ticker(kernel, log))
    threading.Timer(
        0.2, lambda: kernel.call_soon_threadsafe(lambda: log.tell("from-thread"))
    ).start()
    wall = kernel.run(50.0)
    # 50 simulated seconds at 100x take about half a second: generous bounds.
    assert 0.4 <= wall < 5.0
    assert any(m == "from-thread" for _, m in seen)
    t_in = next(t for t, m in seen if m == "from-thread")
    assert 5.0 <= t_in <= 50.0
    pykka.ActorRegistry.stop_all(block=False)
    dispatcher.run_until_idle()


def _ticker(kernel: Kernel, log: pykka.ActorRef):
    while True:
        yield kernel.env.timeout(10)
        log.tell("tick")


def test_stop_from_another_thread_returns_early() -> None:
    dispatcher = Dispatcher("k")
    kernel = Kernel(1.0, dispatcher)
    kernel.env.process(_idle(kernel))
    threading.Timer(0.2, kernel.stop).start()
    start = time.monotonic()
    kernel.run(3600.0)
    assert time.monotonic() - start < 5.0


def _idle(kernel: Kernel):
    while True:
        yield kernel.env.timeout(1)


def test_stop_takes_no_lock_so_a_signal_handler_cannot_deadlock_on_it() -> None:
    # A handler runs on the kernel's thread, maybe while that thread holds the dispatcher's
    # non-reentrant wake-up lock (inside `wait`); stop() must return all the same.
    dispatcher = Dispatcher("k")
    kernel = Kernel(1.0, dispatcher)
    held = dispatcher._wakeup  # the lock `Dispatcher.wait` and `notify` take

    def stop_inside_the_lock() -> None:
        with held:
            kernel.stop()

    stopper = threading.Thread(target=stop_inside_the_lock, daemon=True)
    stopper.start()
    stopper.join(5.0)
    assert not stopper.is_alive(), "stop() blocked on the dispatcher's lock"
    kernel.env.process(_idle(kernel))
    assert kernel.run(3600.0) < 5.0  # the flag alone ends the run


def test_blocking_get_in_a_simpy_process_raises_instead_of_hanging() -> None:
    assert len(blocking_gets_refused(Kernel("max", Dispatcher("k")), lambda k: k.run(10.0))) == 1


def blocking_gets_refused(kernel: Kernel, run: Callable[[Kernel], object]) -> list[BaseException]:
    """The errors a simpy process got asking an actor and waiting for the answer, `run`
    running `kernel` (a blocking get there would wait for a turn only its thread can run)."""
    from actors.runtime import BlockingGetError

    log = Log.start(kernel.dispatcher, kernel, [])
    errors: list[BaseException] = []

    def asker():
        yield kernel.env.timeout(1)
        try:
            log.ask("q", block=False).get(timeout=1)
        except BlockingGetError as exc:
            errors.append(exc)

    kernel.env.process(asker())
    run(kernel)
    log.stop(block=False)
    kernel.dispatcher.run_until_idle()
    return errors


def test_a_paced_kernel_keeps_a_bounded_record_of_its_lag() -> None:
    kernel = Kernel(1000.0, Dispatcher("lags"))

    def ticks():
        while True:
            yield kernel.env.timeout(1.0)

    kernel.env.process(ticks())
    kernel.run(50.0)
    assert 49 <= len(kernel.lags_s) <= 51 and all(lag >= 0.0 for lag in kernel.lags_s)
    assert kernel.lags_s.maxlen == LAG_SAMPLES  # a live VEN steps forever: never unbounded
