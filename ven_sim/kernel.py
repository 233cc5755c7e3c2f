"""The simulation kernel: simpy owns the clock, one thread owns simpy.

`speed="max"` steps as fast as possible and is deterministic: actors run on a
caller-driven dispatcher between simpy steps, so one thread does everything in
the same order every run. A numeric speed paces simulated time against wall
time (60 = one simulated minute per wall second) and, while it waits, lets
other threads hand work in through `call_soon_threadsafe` and lets actors
handle messages told from network threads. `run_hosted` runs the same steps on another
thread's loop (a fleet worker's network loop): actors and sockets then share one thread.
"""

from __future__ import annotations

import queue
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Protocol

import simpy

from actors.runtime import Dispatcher, no_blocking_gets

# The paced kernel never sleeps longer than this before it looks at `stop()` again.
STOP_POLL_S = 0.1
LAG_SAMPLES = 100_000  # the latest steps' lags kept: more than a long scenario's ticks


class Guest(Protocol):
    """Work a `Host` runs on its own thread, a round at a time."""

    def idle_for(self) -> float:
        """Seconds until the guest has work (0: now)."""
        ...

    def run_round(self, deadline: float) -> None:
        """Work until done or `deadline` (`time.monotonic()`) has passed."""
        ...


class Host(Protocol):
    """A thread's loop that runs a guest's rounds between its own (a `NetworkLoop`)."""

    @property
    def running(self) -> bool: ...

    def host(self, guest: Guest | None) -> None:
        """Run `guest`'s rounds from now on (None: no more). Safe from any thread."""
        ...

    def wake(self) -> None:
        """Run a round soon: the guest has work. Safe from any thread."""
        ...


class Kernel:
    def __init__(self, speed: str | float, dispatcher: Dispatcher, *,
                 on_lag: Callable[[float], None] | None = None) -> None:
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
        # Where each paced step's lag goes: `lags_s`, unless the caller keeps its own (a fleet
        # shard, a histogram for as long as it runs).
        self._on_lag = on_lag or self.lags_s.append
        self._wall0: float | None = None  # a paced run's start, `time.monotonic()`

    @property
    def now(self) -> float:
        return float(self.env.now)

    def sim_time_at(self, epoch_s: float) -> float:
        """The simulated time a paced run reaches when the wall clock (`time.time()`) reads
        `epoch_s`: for a process that wakes at wall-clock instants. (A delay counted from
        `time.time()` comes early by as much as the step computing it started late: that
        step's `now` is its due time, not the wall clock's.)"""
        if self._wall0 is None or self.speed == "max":
            raise RuntimeError("only a paced run that has started follows the wall clock")
        return (epoch_s - time.time() + time.monotonic() - self._wall0) * float(self.speed)

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

    def run_hosted(self, until: float, host: Host) -> float:
        """`run`, its steps and actors on `host`'s thread while this one waits (paced only).

        A fleet worker's actors and its MQTT clients on one thread: with a thread each, they
        handed the GIL to each other at every socket call, and each hand-over cost both CPU.
        """
        if self.speed == "max":
            raise ValueError("run_hosted paces against the wall clock: speed 'max' runs alone")
        hosted = _HostedRun(self, until)
        self.dispatcher.waker = host.wake
        host.host(hosted)
        try:
            while not hosted.finished.wait(STOP_POLL_S):
                if not host.running:
                    raise RuntimeError("the network loop ended while it ran the kernel")
        finally:
            host.host(None)
            self.dispatcher.waker = None
        if hosted.error is not None:
            raise hosted.error
        return time.monotonic() - hosted.wall0

    def _run(self, until: float, progress: Callable[[float], None] | None) -> float:
        env = self.env
        wall0 = self._wall0 = time.monotonic()
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
                self._on_lag(max(0.0, time.monotonic() - due))
            env.step()
            if progress is not None and env.now - last_progress >= 60.0:
                last_progress = env.now
                progress(env.now)
        self._settle()
        if progress is not None:
            progress(min(until, env.now) if self._stopping else until)
        return time.monotonic() - wall0

    def _settle(self, deadline: float | None = None) -> bool:
        """Hand in work from other threads and let every actor go idle; False if `deadline`
        (`time.monotonic()`) came first."""
        while True:
            while True:
                try:
                    fn = self._inbox.get_nowait()
                except queue.Empty:
                    break
                fn()
            if not self.dispatcher.run_until_idle(deadline) and self._inbox.empty():
                return True
            if deadline is not None and time.monotonic() >= deadline:
                return not self.dispatcher.pending() and self._inbox.empty()

    def _wait_until(self, deadline: float) -> None:
        while not self._stopping:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            if self.dispatcher.wait(min(remaining, STOP_POLL_S)) or not self._inbox.empty():
                self._settle()


class _HostedRun:
    """`Kernel._run`, a round at a time on a host's thread (`Kernel.run_hosted`)."""

    def __init__(self, kernel: Kernel, until: float) -> None:
        self.kernel, self.until = kernel, until
        self.wall0 = kernel._wall0 = time.monotonic()
        self.finished = threading.Event()
        self.error: BaseException | None = None

    def idle_for(self) -> float:
        kernel = self.kernel
        if self.finished.is_set():
            return float("inf")
        if kernel._stopping or kernel.dispatcher.pending() or not kernel._inbox.empty():
            return 0.0
        next_t = kernel.env.peek()
        if next_t > self.until:
            return 0.0
        return max(0.0, self.wall0 + next_t / float(kernel.speed) - time.monotonic())

    def run_round(self, deadline: float) -> None:
        if self.finished.is_set():
            return
        try:
            with no_blocking_gets():  # this thread drives the dispatcher: a get would hang
                if not self._steps(deadline):
                    return
                self.kernel._settle()  # the run is over: what its last step caused
        except BaseException as exc:  # noqa: BLE001 - raised again by run_hosted's thread
            self.error = exc
        self.finished.set()

    def _steps(self, deadline: float) -> bool:
        """Settle, then each step due and its settling, until `deadline`; True once the run
        ends. A step waits for the settling of the one before, as in `Kernel._run`."""
        kernel = self.kernel
        env, speed = kernel.env, float(kernel.speed)  # type: ignore[arg-type]
        if not kernel._settle(deadline):
            return False
        while True:
            next_t = env.peek()
            if kernel._stopping or next_t > self.until:
                return True
            due = self.wall0 + next_t / speed
            now = time.monotonic()
            if due > now or now >= deadline:
                return False
            kernel._on_lag(now - due)
            env.step()
            if not kernel._settle(deadline):
                return False
