"""Settlement baselines, each against a small case computed by hand."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from sim.baseline import (
    DAY_S,
    DayOfAdjustment,
    caiso_10in10,
    delivered,
    like_days,
    pjm_hi4of5,
    pre_window,
    window_mean_kw,
)

# 5-minute samples: 4 kW for two hours, then 1 kW (an event) for an hour.
SAMPLES = [(t, t + 300.0, 4.0) for t in range(0, 7200, 300)] + [
    (t, t + 300.0, 1.0) for t in range(7200, 10800, 300)
]


def test_pre_window_uses_only_event_free_time_before_the_start() -> None:
    assert pre_window(SAMPLES, 7200.0, 3600.0) == pytest.approx(4.0)
    assert pre_window(SAMPLES, 0.0, 3600.0) is None
    uneven = [(0.0, 600.0, 2.0), (600.0, 900.0, 5.0)]
    assert pre_window(uneven, 900.0, 900.0) == pytest.approx((2 * 600 + 5 * 300) / 900)


def test_back_to_back_second_pre_window_skips_the_first_event() -> None:
    first, second = (7200.0, 10800.0), (10800.0, 14400.0)
    # A naive window would be the first event's 1 kW; it reaches back to the 4 kW before.
    assert window_mean_kw(SAMPLES, 10800.0 - 3600.0, 10800.0) == pytest.approx(1.0)
    assert pre_window(SAMPLES, 10800.0, 3600.0, (first, second)) == pytest.approx(4.0)


def test_delivered_kw_and_kwh() -> None:
    kw, kwh = delivered(SAMPLES, baseline_kw=4.0, start=7200.0, end=10800.0)
    assert kw == pytest.approx(3.0)
    assert kwh == pytest.approx(3.0)


# Monday 2026-07-13 to Friday 17, hourly samples. The event: Friday 15:00-17:00. Per day back:
# kW over the event's hours and over the adjustment window (11:00-14:00: 3 h ending 1 h
# before the start); 1 kW at other hours. Tuesday (3 days back) had an event.
MONDAY = datetime(2026, 7, 13, tzinfo=UTC).timestamp()
EVENT_KW = {1: 4.0, 2: 6.0, 3: 9.0, 4: 2.0}
ADJUST_KW = {0: 2.4, 1: 2.0, 2: 3.0, 3: 9.0, 4: 1.0}
START = 4 * DAY_S + 15 * 3600.0
END = START + 7200.0
TUESDAY_EVENT = (1 * DAY_S + 15 * 3600.0, 1 * DAY_S + 17 * 3600.0)


def _hourly() -> list[tuple[float, float, float]]:
    samples = []
    for day in range(5):
        back = 4 - day
        for hour in range(24):
            kw = 1.0
            if 11 <= hour < 14:
                kw = ADJUST_KW[back]
            elif 15 <= hour < 17:
                kw = EVENT_KW.get(back, 0.5)
            t = day * DAY_S + hour * 3600.0
            samples.append((t, t + 3600.0, kw))
    return samples


def test_like_days_skip_event_days_weekends_and_holidays() -> None:
    excluded = (TUESDAY_EVENT, (START, END))
    assert like_days(START, MONDAY, 0.0, excluded) == [1, 2, 4]
    assert like_days(START, MONDAY, 0.0, excluded, frozenset({date(2026, 7, 15)})) == [1, 4]
    # Saturday's like days are weekend days and holidays only: none in the data.
    assert like_days(START + DAY_S, MONDAY, 0.0, excluded) == []


def test_caiso_10in10_by_hand() -> None:
    days = [1, 2, 4]
    # Like days over the event: (4 + 6 + 2) / 3 = 4. Day-of: 2.4 against (2 + 3 + 1) / 3 = 2.
    assert caiso_10in10(_hourly(), START, END, days) == pytest.approx(4.0 * 1.2)
    assert caiso_10in10(_hourly(), START, END, days, cap=0.1) == pytest.approx(4.0 * 1.1)
    assert caiso_10in10(_hourly(), START, END, days, count=1) == pytest.approx(4.0 * 1.2)
    assert caiso_10in10(_hourly(), START, END, []) is None


def test_pjm_high_4_of_5_by_hand() -> None:
    days = [1, 2, 4]
    assert pjm_hi4of5(_hourly(), START, END, days) is None  # fewer than 4 like days
    # High 2 of 3: Wednesday (6) and Thursday (4): 5 kW; additive 2.4 - (3 + 2) / 2 = -0.1.
    assert pjm_hi4of5(_hourly(), START, END, days, pool=3, keep=2) == pytest.approx(4.9)
    wide = DayOfAdjustment(hours=1.0, gap_h=0.0)  # 14:00-15:00: 1 kW every day
    assert pjm_hi4of5(_hourly(), START, END, days, pool=3, keep=2, adjustment=wide) == 5.0
