"""The simulation kernel: simpy owns the clock, one thread owns simpy.

`speed="max"` steps as fast as possible and is deterministic: actors run on a
caller-driven dispatcher between simpy steps, so one thread does everything in
the same order every run. A numeric speed paces simulated time against wall
time (60 = one simulated minute per wall second) and, while it waits, lets
other threads hand work in through `call_soon_threadsafe` and lets actors
handle messages told from network threads.
"""

from __future__ import annotations

import queue
import time
from collections import deque
from collections.abc import Callable

import simpy

from actors.runtime import Dispatcher, no_blocking_gets

# The paced kernel never sleeps longer than this before it looks at `stop()` again.
STOP_POLL_S = 0.1
LAG_SAMPLES = 100_000  # the latest steps' lags kept: more than a long scenario's ticks


class Kernel:
    def __init__(self, speed: str | float, dispatcher: Dispatcher) -> None:
        if speed != "max" and (not isinstance(speed, int | float) or speed <= 0):
            raise ValueError(f"speed must be 'max' or a positive number, got {speed!r}")
        self.env = simpy.Environment()
        self.speed = speed
        self.dispatcher = dispatcher
        self._inbox: queue.SimpleQueue[Callable[[], None]] = queue.SimpleQueue()
        self._stopping = False
        # Paced runs: wall seconds each step came after its due time (how far it fell behind);
        # bounded, since a live VEN steps every second for as long as it runs.
        self.lags_s: deque[float] = deque(maxlen=LAG_SAMPLES)

    @property
    def now(self) -> float:
        return float(self.env.now)

    def call_soon_threadsafe(self, fn: Callable[[], None]) -> None:
        """Run `fn` on the kernel thread at the current simulated time."""
        self._inbox.put(fn)
        self.dispatcher.notify()

    def stop(self) -> None:
        """Ask `run` to return early: from any thread, and from a signal handler.

        Only a flag, no wake-up: a signal handler runs on the main thread (the kernel's,
        in `live`) maybe while it holds the dispatcher's non-reentrant wake-up lock, so
        notifying the dispatcher from here could wait for itself forever. `_wait_until`
        waits in slices of at most STOP_POLL_S instead and looks at the flag in between.
        """
        self._stopping = True

    def run(self, until: float, progress: Callable[[float], None] | None = None) -> float:
        """Run to simulated time `until`; return the wall seconds it took."""
        # simpy processes run on this thread between dispatcher turns: a blocking
        # ask().get() in one would wait for a reply only this thread can handle.
        with no_blocking_gets():
            return self._run(until, progress)

    def _run(self, until: float, progress: Callable[[float], None] | None) -> float:
        env = self.env
        wall0 = time.monotonic()
        paced = self.speed != "max"
        last_progress = 0.0
        while not self._stopping:
            self._settle()
            next_t = env.peek()
            if next_t > until:
                break
            if paced:
                due = wall0 + next_t / float(self.speed)
                self._wait_until(due)
                if self._stopping:
                    break
                self.lags_s.append(max(0.0, time.monotonic() - due))
            env.step()
            if progress is not None and env.now - last_progress >= 60.0:
                last_progress = env.now
                progress(env.now)
        self._settle()
        if progress is not None:
            progress(min(until, env.now) if self._stopping else until)
        return time.monotonic() - wall0

    def _settle(self) -> None:
        """Hand in work from other threads and let every actor go idle."""
        while True:
            while True:
                try:
                    fn = self._inbox.get_nowait()
                except queue.Empty:
                    break
                fn()
            if not self.dispatcher.run_until_idle() and self._inbox.empty():
                return

    def _wait_until(self, deadline: float) -> None:
        while not self._stopping:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            if self.dispatcher.wait(min(remaining, STOP_POLL_S)) or not self._inbox.empty():
                self._settle()
