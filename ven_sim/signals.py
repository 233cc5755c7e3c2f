"""SIGINT and SIGTERM for the long-running commands (`live`, `broker`, `listen`, ...).

A Python signal handler runs on the main thread between two bytecodes, possibly
while that thread is inside a `with lock:`. A handler that takes a lock the
interrupted code holds (a `threading.Lock`, a `Condition`, even
`threading.Event.set()`) waits for itself forever. So the handler here only
stores a flag and calls a callback that must be just as lock-free, and `wait()`
polls that flag instead of sleeping on an Event.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable
from types import FrameType, TracebackType
from typing import Any

__all__ = ["POLL_S", "STOP_SIGNALS", "StopSignals"]

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
POLL_S = 0.1  # how long `wait()` may take to notice a signal


class StopSignals:
    """While entered, SIGINT and SIGTERM ask the process to stop instead of ending it.

    Enter it before the command says it is up, so a signal right after that line
    already stops it cleanly. `on_signal` runs inside the handler and must be
    signal-safe: no locks, no blocking, no I/O; storing a flag (`Kernel.stop`) is
    fine. The previous handlers come back on exit. Python delivers signals to the
    main thread only, so elsewhere (a command invoked from a test thread) nothing
    is installed and only the caller's own conditions end the wait.
    """

    def __init__(self, on_signal: Callable[[], None] | None = None) -> None:
        self._on_signal = on_signal
        self._received: int | None = None  # a plain attribute: storing it takes no lock
        self._previous: dict[int, Any] = {}

    def call_on_signal(self, callback: Callable[[], None]) -> None:
        """From now on call `callback` on a signal (at once if one came already); it must be
        as signal-safe as `on_signal`. For what exists only after the handler is installed."""
        self._on_signal = callback
        if self._received is not None:
            callback()

    @property
    def requested(self) -> bool:
        """Whether SIGINT or SIGTERM came while installed."""
        return self._received is not None

    def wait(self, timeout: float | None = None) -> bool:
        """Block until a signal came (True) or `timeout` seconds passed (False)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while self._received is None:
            slice_s = POLL_S
            if deadline is not None:
                slice_s = min(slice_s, deadline - time.monotonic())
                if slice_s <= 0:
                    return False
            time.sleep(slice_s)  # the handler runs in here; sleep then finishes its slice
        return True

    def __enter__(self) -> StopSignals:
        if threading.current_thread() is threading.main_thread():
            self._previous = {sig: signal.signal(sig, self._handle) for sig in STOP_SIGNALS}
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        for sig, previous in self._previous.items():
            # None: the previous handler was not set from Python; the default is the best guess.
            signal.signal(sig, signal.SIG_DFL if previous is None else previous)
        self._previous = {}

    def _handle(self, signum: int, _frame: FrameType | None) -> None:
        self._received = signum
        if self._on_signal is not None:
            self._on_signal()
