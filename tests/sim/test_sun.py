"""Clear-sky sun on the roof and walls (sim.sun) against known solar geometry."""

from __future__ import annotations

import pytest

from sim.sun import (
    CONDUCTION_LAG_H,
    SOLAR_NOON_HOUR,
    declination_deg,
    envelope_irradiance,
    lagged_envelope_irradiance,
    surface_irradiance,
    window_irradiance,
)

JULY_15, JAN_15 = 196, 15


def _peak_hour(f, day: int) -> float:
    hours = [h / 12.0 for h in range(24 * 12)]
    return max(hours, key=lambda h: f(day, h))


def test_declination_at_the_solstices_and_equinox() -> None:
    assert declination_deg(172) == pytest.approx(23.45, abs=0.05)  # June 21
    assert declination_deg(355) == pytest.approx(-23.45, abs=0.05)  # December 21
    assert abs(declination_deg(81)) < 0.5  # March 22


def test_each_surface_gets_the_sun_when_it_faces_it() -> None:
    def surface(i: int):
        return lambda day, h: surface_irradiance(day, h)[i]

    assert _peak_hour(surface(0), JULY_15) == SOLAR_NOON_HOUR  # roof: solar noon
    assert _peak_hour(surface(2), JULY_15) < 10.0  # east: morning
    assert _peak_hour(surface(4), JULY_15) > 16.0  # west: late afternoon
    assert _peak_hour(surface(3), JAN_15) == SOLAR_NOON_HOUR  # south at noon in winter...
    noon_south = [surface_irradiance(d, SOLAR_NOON_HOUR)[3] for d in (JULY_15, JAN_15)]
    assert noon_south[1] > 2 * noon_south[0]  # ...and far more than under July's high sun
    roof = surface_irradiance(JULY_15, SOLAR_NOON_HOUR)[0]
    assert 0.9 <= roof <= 1.1  # clear-sky global horizontal at a July noon, kW/m2
    # A clear July day on the horizontal at 35 N: 8-9 kWh/m2 (NREL clear-sky ranges).
    assert 8.0 <= sum(surface_irradiance(JULY_15, m / 60.0)[0] for m in range(1440)) / 60 <= 9.5
    assert surface_irradiance(JULY_15, 2.0) == (0.0,) * 5  # night


def test_summer_windows_take_more_sun_morning_and_evening_than_at_noon() -> None:
    assert window_irradiance(JULY_15, 9.0) > window_irradiance(JULY_15, SOLAR_NOON_HOUR)
    assert window_irradiance(JULY_15, 17.0) > window_irradiance(JULY_15, SOLAR_NOON_HOUR)


def test_the_envelope_passes_the_sun_in_hours_later() -> None:
    raw = _peak_hour(envelope_irradiance, JULY_15)
    lagged = _peak_hour(lagged_envelope_irradiance, JULY_15)
    assert abs(raw - SOLAR_NOON_HOUR) <= 1.5  # roof and walls together: around noon
    assert 15.0 <= lagged <= 17.5 and CONDUCTION_LAG_H == 3.0
    # The lag moves heat, it neither makes nor loses it.
    day = [m / 60.0 for m in range(1440)]
    assert sum(lagged_envelope_irradiance(JULY_15, h) for h in day) == pytest.approx(
        sum(envelope_irradiance(JULY_15, h) for h in day), rel=0.01)
