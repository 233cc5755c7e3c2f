"""The counterfactual's figures by hand: the day's peak with and without the event, and
cold-water minutes apart from thermal comfort."""

from __future__ import annotations

from sim.counterfactual import comfort, day_peaks
from sim.fleetlog import Row
from sim.mv import EventWindow

H = 3600.0


def _row(ven: str, t0: float, kw: float, cf: float | None = None,
         cold: tuple[float, float] = (0.0, 0.0)) -> Row:
    twin = None if cf is None else 0.0
    return Row(t0, t0 + H, ven, kw, kw, 0.0, 0.0, None, 0.0, 0.0, None, cf, twin, (0.0, 0.0),
               None if cf is None else (0.0, 0.0), cold)


EVENT = EventWindow("e", 16 * H, 18 * H, ("a",), 2.0)


def test_day_peak_moved_by_the_event() -> None:
    # Fleet of a (targeted) and b (not). Without the event a would peak at 16:00, 5 kW;
    # it sheds to 1 kW and snaps back to 6 kW at 18:00 (its twin: 3 kW).
    rows = [
        _row("a", 15 * H, 2.0), _row("b", 15 * H, 1.0),
        _row("a", 16 * H, 1.0, 5.0), _row("b", 16 * H, 1.0),
        _row("a", 17 * H, 1.0, 4.0), _row("b", 17 * H, 1.0),
        _row("a", 18 * H, 6.0, 3.0), _row("b", 18 * H, 1.0),
        # The next day is another day: never in this day's peak.
        _row("a", 40 * H, 9.0, 9.0), _row("b", 40 * H, 9.0),
    ]
    peaks = day_peaks(EVENT, rows, [EVENT])
    # Actual: 3, 2, 2, 7 kW -> 7 at 18:00. Without: 3, 6, 5, 4 kW -> 6 at 16:00.
    assert peaks == {"event_day_peak_kw": 7.0, "counterfactual_day_peak_kw": 6.0}


def test_day_peak_after_the_horizon_is_what_was_drawn() -> None:
    # A second event on a at 18:00 ends the first one's counterfactual there.
    second = EventWindow("f", 18 * H, 19 * H, ("a",), 1.0)
    rows = [_row("a", 16 * H, 1.0, 5.0), _row("a", 18 * H, 2.0, 8.0)]
    peaks = day_peaks(EVENT, rows, [EVENT, second])
    assert peaks == {"event_day_peak_kw": 2.0, "counterfactual_day_peak_kw": 5.0}


def test_cold_water_minutes_apart_and_net_of_the_twins() -> None:
    rows = [
        _row("a", 16 * H, 1.0, 2.0, cold=(30.0, 10.0)),
        _row("a", 17 * H, 1.0, 2.0, cold=(20.0, 0.0)),
        _row("a", 18 * H, 1.0, 2.0, cold=(5.0, 5.0)),  # the hour after: counted
        _row("a", 19 * H, 1.0, 2.0, cold=(7.0, 0.0)),  # past that hour: not
        _row("c", 16 * H, 1.0, 2.0, cold=(9.0, 9.0)),  # not targeted: not
    ]
    figures = comfort(EVENT, rows, [EVENT], H)
    assert figures["hot_water_minutes"] == 55.0
    assert figures["net_hot_water_minutes"] == 40.0
    assert figures["vens_hot_water_affected"] == 1
    assert figures["warm_minutes"] == 0.0  # thermal comfort is apart


def test_day_peak_adds_in_row_order_when_an_interval_comes_back() -> None:
    # 16:00 comes back after a 17:00 row: its draws still add in the log's order,
    # (1e16 + 1) + 1 = 1e16 exactly, not 1e16 + (1 + 1), as M&V's outputs have always added.
    rows = [_row("a", 16 * H, 1e16, 1e16), _row("b", 17 * H, 5.0),
            _row("b", 16 * H, 1.0), _row("c", 16 * H, 1.0)]
    peaks = day_peaks(EVENT, rows, [EVENT])
    assert peaks == {"event_day_peak_kw": 1e16, "counterfactual_day_peak_kw": 1e16}
    assert 1e16 + (1.0 + 1.0) != 1e16  # the other grouping would show
