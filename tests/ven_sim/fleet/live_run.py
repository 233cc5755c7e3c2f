"""Run `ven-sim fleet` as a process, act once its progress line says so, then stop it."""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Callable


def run_until(command: list[str], *needles: str, then: Callable[[], object] | None = None,
              stop: signal.Signals = signal.SIGINT, timeout_s: float = 90.0,
              terminal: bool = False) -> tuple[int, str, str, str]:
    """Start `command`; at the first stderr line holding every needle call `then`, send
    `stop` and wait. Returns (exit code, that line, stdout, the rest of stderr).

    With `terminal`, the command runs as a shell runs a job (its own session and process
    group) and `stop` goes to that whole group, as a Ctrl-C on the terminal does."""
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=terminal)
    matched = ""
    try:
        assert proc.stderr is not None
        for line in proc.stderr:  # one progress line a second (stderr is not a terminal)
            if all(needle in line for needle in needles):
                matched = line
                break
        if then is not None:
            then()
        if terminal:
            os.killpg(proc.pid, stop)
        else:
            proc.send_signal(stop)
        stdout, stderr = proc.communicate(timeout=timeout_s)
    finally:
        if proc.poll() is None:
            proc.kill()
    return proc.returncode, matched, stdout, stderr
