"""Did a paced run keep up: the summary block and when it warns."""

from __future__ import annotations

from ven_sim.pacing import LAG_LIMIT_S, pacing_summary


def test_speed_max_has_no_pacing_block() -> None:
    assert pacing_summary("max", [], None) == {}


def test_a_run_that_kept_up_says_so_without_warning() -> None:
    pacing = pacing_summary(600, [0.001, 0.002, 0.0], {"ack_rtt_ms_p50": 20.0})["pacing"]
    assert pacing["kept_up"] is True and "warning" not in pacing
    assert pacing["ack_lag_sim_s_p50"] == 12.0  # 20 ms at 600x
    assert pacing["tick_lag_sim_s_p50"] == 0.6


def test_slow_acks_at_a_high_speed_warn_with_a_speed_that_would_do() -> None:
    # The case from the field: p50 505 ms at 3600x is half an hour of simulated lag.
    pacing = pacing_summary(3600, [0.0], {"ack_rtt_ms_p50": 505.0})["pacing"]
    assert pacing["kept_up"] is False
    assert pacing["ack_lag_sim_s_p50"] == 1818.0
    assert "acks trailed by 1818 simulated s" in pacing["warning"]
    assert "e.g. 118)" in pacing["warning"]  # 60 s of lag at most
    assert LAG_LIMIT_S >= 505.0 / 1000 * 118


def test_ticks_behind_without_a_wire_warn_too() -> None:
    pacing = pacing_summary(1000, [0.5, 0.5, 0.5], None)["pacing"]
    assert pacing["ack_lag_sim_s_p50"] is None
    assert pacing["kept_up"] is False and "ticks trailed" in pacing["warning"]
