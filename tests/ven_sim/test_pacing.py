"""Did a paced run keep up: the summary block and when it warns."""

from __future__ import annotations

from ven_sim.pacing import pacing_summary

INTERVAL_S = 300.0  # 5-minute reports: VENs act on commands at their next tick


def test_speed_max_has_no_pacing_block() -> None:
    assert pacing_summary("max", [], None, INTERVAL_S) == {}


def test_a_run_that_kept_up_says_so_without_warning() -> None:
    pacing = pacing_summary(
        600, [0.001, 0.002, 0.0], {"ack_rtt_ms_p50": 20.0}, INTERVAL_S
    )["pacing"]
    assert pacing["kept_up"] is True and "warning" not in pacing
    assert pacing["ack_lag_sim_s_p50"] == 6.0  # one way, 10 ms at 600x
    assert pacing["tick_lag_sim_s_p50"] == 0.6


def test_a_lag_within_one_report_interval_is_no_skew() -> None:
    # The embedded broker's ~200 ms round trips at 600x: a minute late, inside the interval.
    pacing = pacing_summary(600, [0.0], {"ack_rtt_ms_p50": 200.0}, INTERVAL_S)["pacing"]
    assert pacing["ack_lag_sim_s_p50"] == 60.0 and pacing["kept_up"] is True


def test_slow_acks_at_a_high_speed_warn_with_a_speed_that_would_do() -> None:
    # The case from the field: p50 505 ms at 3600x, a quarter of an hour each way.
    pacing = pacing_summary(3600, [0.0], {"ack_rtt_ms_p50": 505.0}, INTERVAL_S)["pacing"]
    assert pacing["kept_up"] is False
    assert pacing["ack_lag_sim_s_p50"] == 909.0
    assert "acks trailed by 909 simulated s" in pacing["warning"]
    assert "e.g. 1188)" in pacing["warning"]  # 300 s of lag at most
    assert INTERVAL_S >= 505.0 / 2000 * 1188


def test_ticks_behind_without_a_wire_warn_too() -> None:
    pacing = pacing_summary(1000, [0.5, 0.5, 0.5], None, INTERVAL_S)["pacing"]
    assert pacing["ack_lag_sim_s_p50"] is None
    assert pacing["kept_up"] is False and "ticks trailed" in pacing["warning"]
