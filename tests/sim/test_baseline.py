"""Baseline from the window before the event; delivered = baseline - actual."""

from __future__ import annotations

import pytest

from sim.baseline import delivered, window_mean_kw

# 5-minute samples: 4 kW for two hours, then 1 kW (an event) for an hour.
SAMPLES = [(t, t + 300.0, 4.0) for t in range(0, 7200, 300)] + [
    (t, t + 300.0, 1.0) for t in range(7200, 10800, 300)
]


def test_baseline_uses_only_the_window_before_the_event() -> None:
    assert window_mean_kw(SAMPLES, start=7200.0, window_s=3600.0) == pytest.approx(4.0)
    # A window reaching into the event would drop; the baseline must not.
    assert window_mean_kw(SAMPLES, start=7200.0, window_s=7200.0) == pytest.approx(4.0)


def test_baseline_is_time_weighted_and_none_without_history() -> None:
    uneven = [(0.0, 600.0, 2.0), (600.0, 900.0, 5.0)]
    assert window_mean_kw(uneven, 900.0, 900.0) == pytest.approx((2 * 600 + 5 * 300) / 900)
    assert window_mean_kw(SAMPLES, start=0.0, window_s=3600.0) is None


def test_delivered_kw_and_kwh() -> None:
    kw, kwh = delivered(SAMPLES, baseline_kw=4.0, start=7200.0, end=10800.0)
    assert kw == pytest.approx(3.0)
    assert kwh == pytest.approx(3.0)

