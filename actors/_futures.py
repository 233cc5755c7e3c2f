"""Futures for actors on a dispatcher, and the mark of a thread that must never block on
one: parts of `actors.runtime`, kept apart to keep that module short."""

from __future__ import annotations

import contextlib
import logging
import sys
import threading
from collections.abc import Callable, Iterator
from typing import Any

from pykka._threading import ThreadingFuture

logger = logging.getLogger("actors.runtime")  # the runtime's own log, as before the move

# Marks the thread currently driving a dispatcher, whichever dispatcher it is.
_driving = threading.local()


@contextlib.contextmanager
def no_blocking_gets() -> Iterator[None]:
    """Mark this thread as one that must never block on a future (a kernel thread)."""
    was_driving, _driving.active = getattr(_driving, "active", False), True
    try:
        yield
    finally:
        _driving.active = was_driving


class BlockingGetError(RuntimeError):
    """A blocking future get() was attempted on the dispatcher's own thread."""


class CallbackFuture(ThreadingFuture[Any]):
    """A thread-safe pykka future that can also call back when it is set."""

    def __init__(self) -> None:
        super().__init__()
        self._callbacks: list[Callable[[CallbackFuture], None]] = []

    def add_done_callback(self, callback: Callable[[CallbackFuture], None]) -> None:
        """Call `callback(future)` once the future has a value or an exception.

        Runs at once if the future is already done, otherwise on whichever
        thread sets it (the dispatcher for actor replies).
        """
        with self._condition:
            if self._result is None:
                self._callbacks.append(callback)
                return
        callback(self)

    def done(self) -> bool:
        return self._result is not None

    def get(self, *, timeout: float | None = None) -> Any:
        if self._result is None and getattr(_driving, "active", False):
            msg = "blocking get() on the dispatcher thread would deadlock; use a callback"
            raise BlockingGetError(msg)
        return super().get(timeout=timeout)

    def set(self, value: Any | None = None) -> None:
        super().set(value)
        self._run_callbacks()

    def set_exception(self, exc_info: Any = None) -> None:
        super().set_exception(exc_info if exc_info is not None else sys.exc_info())
        self._run_callbacks()

    def _run_callbacks(self) -> None:
        with self._condition:
            callbacks, self._callbacks = self._callbacks, []
        for callback in callbacks:
            try:
                callback(self)
            except Exception:
                logger.exception("future callback failed")
