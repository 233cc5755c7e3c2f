"""SIGINT/SIGTERM: the helper against real signals, and each long-running command as a process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from actors.runtime import Dispatcher
from ven_sim.broker.mosquitto import free_port
from ven_sim.kernel import Kernel
from ven_sim.signals import STOP_SIGNALS, StopSignals

# Generous: start-up imports a lot and CI machines can be slow; a pass never waits this long.
TIMEOUT_S = 60.0


@pytest.mark.parametrize("sig", STOP_SIGNALS, ids=lambda s: s.name)
def test_a_real_signal_sets_the_flag_and_runs_the_callback(sig: signal.Signals) -> None:
    before = {s: signal.getsignal(s) for s in STOP_SIGNALS}
    calls: list[bool] = []
    with StopSignals(on_signal=lambda: calls.append(True)) as signals:
        assert all(signal.getsignal(s) != before[s] for s in STOP_SIGNALS)
        assert not signals.requested
        os.kill(os.getpid(), sig)
        assert signals.wait(TIMEOUT_S)
    assert signals.requested and calls == [True]
    assert {s: signal.getsignal(s) for s in STOP_SIGNALS} == before


def test_wait_times_out_without_a_signal() -> None:
    with StopSignals() as signals:
        began = time.monotonic()
        assert signals.wait(0.3) is False
    assert time.monotonic() - began >= 0.3
    assert not signals.requested


def test_off_the_main_thread_nothing_is_installed() -> None:
    before = {s: signal.getsignal(s) for s in STOP_SIGNALS}
    errors: list[BaseException] = []

    def enter_and_leave() -> None:
        try:
            with StopSignals() as signals:
                assert not signals.wait(0.05)
        except BaseException as exc:  # handed to the main thread to fail the test
            errors.append(exc)

    worker = threading.Thread(target=enter_and_leave)
    worker.start()
    worker.join(TIMEOUT_S)
    assert errors == []
    assert {s: signal.getsignal(s) for s in STOP_SIGNALS} == before


def test_sigterm_stops_a_paced_kernel_whose_next_event_is_an_hour_away() -> None:
    # The kernel runs on the main thread, as in `live`: the handler interrupts its wait.
    dispatcher = Dispatcher("k")
    kernel = Kernel(1.0, dispatcher)
    kernel.env.process(_once_an_hour(kernel))
    sender = threading.Timer(0.2, os.kill, (os.getpid(), signal.SIGTERM))
    with StopSignals(on_signal=kernel.stop) as signals:
        sender.start()
        began = time.monotonic()
        kernel.run(7200.0)
        took = time.monotonic() - began
    sender.join()
    assert signals.requested
    assert took < 10.0  # an hour without the stop flag


def _once_an_hour(kernel: Kernel):
    while True:
        yield kernel.env.timeout(3600)


# Each long-running command: its arguments, the line that says it is up, the one on a clean stop.
COMMANDS = {
    "live": (
        ["live", "--thing-name", "x", "--broker", "inprocess", "--web-port", "0"],
        "x live on",
        "x stopped",
    ),
    # The web UI starts after "live on": the signal lands while it does.
    "live+web": (
        ["live", "--thing-name", "x", "--broker", "inprocess", "--web-port", "{port}"],
        "x live on",
        "x stopped",
    ),
    "listen": (["listen", "--broker", "inprocess"], "listening on", None),
    "broker": (
        ["broker", "--port", "0", "--certs", "{tmp}/certs"],
        "broker: mqtts://",
        "broker stopped",
    ),
}


@pytest.mark.parametrize(
    ("command", "sig"),
    [("live", signal.SIGTERM), ("live", signal.SIGINT), ("live+web", signal.SIGTERM),
     ("listen", signal.SIGTERM), ("broker", signal.SIGTERM)],
    ids=lambda v: v.name if isinstance(v, signal.Signals) else v,
)
def test_a_signal_right_after_the_first_line_is_a_clean_exit(
    command: str, sig: signal.Signals, tmp_path: Path
) -> None:
    args, up, stopped = COMMANDS[command]
    places = {"tmp": tmp_path, "port": free_port()}
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "VEN_SIM_CERTS": str(tmp_path / "certs")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "ven_sim", *(arg.format(**places) for arg in args)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
    )
    seen: list[str] = []
    first_line = threading.Event()

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            seen.append(line)
            first_line.set()

    # A thread reads, so a process that never prints fails the test instead of hanging it.
    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        assert first_line.wait(TIMEOUT_S), "no output"
        proc.send_signal(sig)  # no pause: the handlers must already be in place
        returncode = proc.wait(timeout=TIMEOUT_S)
        reader.join(TIMEOUT_S)
        output = "".join(seen)
        assert up in seen[0]
        assert returncode == 0, output
        if stopped is not None:
            assert stopped in output
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
