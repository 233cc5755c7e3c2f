"""`FleetMetrics`: what counts as steady state."""

from __future__ import annotations

import time

from ven_sim.fleet.metrics import FleetMetrics


def test_a_round_trip_counts_as_steady_by_when_it_started() -> None:
    metrics = FleetMetrics()
    during_the_fanout = time.monotonic()
    metrics.add_run("command_rtt", 900.0, during_the_fanout)  # sent and answered before
    metrics.open_steady()
    # Sent in the fan-out, answered after the window opened: the fan-out's, not steady state's.
    metrics.add_run("command_rtt", 4_750.0, during_the_fanout)
    metrics.add_run("command_rtt", 12.0, time.monotonic())
    metrics.add_run("telemetry_latency", 20.0, time.monotonic())

    assert metrics.hist["command_rtt"].count == 3
    assert metrics.hist["command_rtt_steady"].count == 1
    assert metrics.summary("command_rtt_steady", "max")["max"] < 13.0
    assert metrics.hist["telemetry_latency_steady"].count == 1


def test_nothing_is_steady_before_the_window_opens() -> None:
    metrics = FleetMetrics()
    metrics.add_run("telemetry_latency", 20.0, time.monotonic())
    assert metrics.hist["telemetry_latency"].count == 1
    assert metrics.hist["telemetry_latency_steady"].count == 0
