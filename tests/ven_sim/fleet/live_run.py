"""Run `ven-sim fleet` as a process, act once its progress line says so, then stop it."""

from __future__ import annotations

import signal
import subprocess
from collections.abc import Callable


def run_until(command: list[str], *needles: str, then: Callable[[], object] | None = None,
              stop: signal.Signals = signal.SIGINT, timeout_s: float = 90.0
              ) -> tuple[int, str, str, str]:
    """Start `command`; at the first stderr line holding every needle call `then`, send
    `stop` and wait. Returns (exit code, that line, stdout, the rest of stderr)."""
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    matched = ""
    try:
        assert proc.stderr is not None
        for line in proc.stderr:  # one progress line a second (stderr is not a terminal)
            if all(needle in line for needle in needles):
                matched = line
                break
        if then is not None:
            then()
        proc.send_signal(stop)
        stdout, stderr = proc.communicate(timeout=timeout_s)
    finally:
        if proc.poll() is None:
            proc.kill()
    return proc.returncode, matched, stdout, stderr
