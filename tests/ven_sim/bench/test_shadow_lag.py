"""The bench's shadow service: its CPU priority, and its lag as `ShadowReplyProbe` measures it.

Ground truth for both: the niceness of every thread of the running service read from /proc
by the test itself, and a service stopped (SIGSTOP) for a known time, whose requests must
show that wait, no less.
"""

from __future__ import annotations

import os
import signal
import time

import pytest

from ven_sim.bench.fleet import SHADOW_NICENESS, fleet_ready
from ven_sim.bench.shadow_lag import PROBE_INTERVAL_S, ShadowReplyProbe
from ven_sim.broker.mosquitto import Mosquitto

PAUSE_S = 1.0
WAIT_S = 30.0  # generous: the machine is shared


def _thread_nice_values(pid: int) -> list[int]:
    values = []
    for task in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{task}/stat") as stat:
            values.append(int(stat.read().rsplit(")", 1)[1].split()[16]))  # field 19: nice
    return values


def _wait_for_answers(probe: ShadowReplyProbe, count: int) -> None:
    deadline = time.monotonic() + WAIT_S
    while probe.figures(None)["requests"] < count:
        assert time.monotonic() < deadline, f"fewer than {count} answers in {WAIT_S:g} s"
        time.sleep(0.05)


@pytest.mark.parametrize("priority", ["low", "normal"])
def test_the_shadow_service_runs_at_the_priority_asked(mosquitto: Mosquitto,
                                                       priority: str) -> None:
    own = os.nice(0)
    expected = min(own + SHADOW_NICENESS, 19) if priority == "low" else own
    with (
        fleet_ready(mosquitto, 0, lambda _line: None, priority) as service,
        ShadowReplyProbe(mosquitto, "bench-000000") as probe,
    ):
        _wait_for_answers(probe, 3)  # answering: its network thread is running too
        values = _thread_nice_values(service.pid)
    assert len(values) >= 2
    assert set(values) == {expected}


def test_an_unknown_priority_is_refused(mosquitto: Mosquitto) -> None:
    with (
        pytest.raises(ValueError, match="low, normal"),
        fleet_ready(mosquitto, 0, lambda _line: None, "idle"),
    ):
        pass


def test_the_lag_shows_a_stopped_service_s_wait(mosquitto: Mosquitto) -> None:
    with (
        fleet_ready(mosquitto, 0, lambda _line: None, "normal") as service,
        ShadowReplyProbe(mosquitto, "bench-000000") as probe,
    ):
        _wait_for_answers(probe, 5)
        os.kill(service.pid, signal.SIGSTOP)
        try:
            time.sleep(PAUSE_S)
        finally:
            os.kill(service.pid, signal.SIGCONT)
        answered = probe.figures(None)["requests"]
        _wait_for_answers(probe, answered + 5)
    figures = probe.figures(None)
    assert figures["unanswered"] == 0
    # A request sent within one interval of the stop waited out nearly all of it.
    paused_ms = PAUSE_S * 1000
    assert paused_ms - PROBE_INTERVAL_S * 1000 <= figures["max"] < paused_ms + WAIT_S * 1000
    assert 0 < figures["p50"] < PAUSE_S * 1000  # most requests were sent while it ran
    assert figures["fanout"] is None  # no fan-out reached the first VEN
