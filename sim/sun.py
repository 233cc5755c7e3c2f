"""Clear-sky sun on a house's roof and walls, for the envelope's sol-air temperature.

Sun on an opaque surface heats it above the air: its sol-air temperature is
T_out + absorptance x irradiance / h_out (ASHRAE Handbook of Fundamentals, ch. 18). The roof
takes the noon sun and the west wall the late afternoon's, which is why a house's cooling
load peaks after the outdoor temperature does. This module gives the irradiance on a roof
and on the four walls of a house at a mid-latitude site, and their mean weighted by each
surface's share of the opaque envelope's conductance.

Clear-sky beam from the Meinel air-mass model, 1.353 x 0.7^(AM^0.678) kW/m2 (Meinel &
Meinel, *Applied Solar Energy*, 1976); diffuse 12 % of the beam on the horizontal
(ASHRAE clear-sky C between 0.06 and 0.14); walls see half the sky and half of a ground
reflecting 20 %.
"""

from __future__ import annotations

import math

LATITUDE_DEG = 35.0  # a mid-latitude US site; the scenario has no place yet
SOLAR_NOON_HOUR = 13.0  # on the local clock, as the world's irradiance bell (daylight time)
SOLAR_CONSTANT_KW_M2 = 1.353
DIFFUSE_SHARE = 0.12
GROUND_REFLECTANCE = 0.2
# Shares of the opaque envelope's UA: an insulated ceiling under the roof (R-30 and more)
# passes less per m2 than the walls, so the walls carry about 70 %.
ROOF_SHARE = 0.3
WALL_SHARE_EACH = (1.0 - ROOF_SHARE) / 4.0
WALL_AZIMUTHS_DEG = (0.0, 90.0, 180.0, 270.0)  # north, east, south, west

_RAD = math.pi / 180.0
_SIN_LAT, _COS_LAT = math.sin(LATITUDE_DEG * _RAD), math.cos(LATITUDE_DEG * _RAD)


def declination_deg(day_of_year: int) -> float:
    """The sun's declination (Cooper 1969): +23.45 at the June solstice, -23.45 in December."""
    return 23.45 * math.sin(2.0 * math.pi * (284 + day_of_year) / 365.0)


def surface_irradiance(day_of_year: int, hour: float) -> tuple[float, ...]:
    """Clear-sky kW/m2 on (roof, north, east, south, west) at `hour` on the local clock."""
    decl = declination_deg(day_of_year) * _RAD
    omega = 15.0 * (hour - SOLAR_NOON_HOUR) * _RAD  # hour angle, negative in the morning
    sin_elev = _SIN_LAT * math.sin(decl) + _COS_LAT * math.cos(decl) * math.cos(omega)
    if sin_elev <= 0.0:
        return (0.0,) * 5
    cos_elev = math.sqrt(1.0 - sin_elev * sin_elev)
    beam = SOLAR_CONSTANT_KW_M2 * 0.7 ** ((1.0 / sin_elev) ** 0.678)
    diffuse = DIFFUSE_SHARE * beam
    horizontal = beam * sin_elev + diffuse
    # Azimuth from north, clockwise: east in the morning, west in the afternoon.
    cos_az = (math.sin(decl) - sin_elev * _SIN_LAT) / max(cos_elev * _COS_LAT, 1e-9)
    azimuth = math.acos(max(-1.0, min(1.0, cos_az)))
    if omega > 0.0:
        azimuth = 2.0 * math.pi - azimuth
    sky_and_ground = diffuse / 2.0 + GROUND_REFLECTANCE * horizontal / 2.0
    walls = tuple(
        beam * max(0.0, cos_elev * math.cos(azimuth - wall * _RAD)) + sky_and_ground
        for wall in WALL_AZIMUTHS_DEG
    )
    return (horizontal, *walls)


def window_irradiance(day_of_year: int, hour: float) -> float:
    """Clear-sky kW/m2 on the windows: the four walls' mean (as much glass on each side).

    In summer the east and west walls take the most, morning and late afternoon, while the
    high noon sun grazes the south: sun through windows peaks twice, not at noon.
    """
    return sum(surface_irradiance(day_of_year, hour)[1:]) / 4.0


def envelope_irradiance(day_of_year: int, hour: float) -> float:
    """Clear-sky kW/m2 on the opaque envelope: roof and walls weighted by their share of UA."""
    roof, *walls = surface_irradiance(day_of_year, hour)
    return ROOF_SHARE * roof + WALL_SHARE_EACH * sum(walls)


# The opaque envelope's own mass delays the sun's heat on its way in: light frame walls and
# roofs show 2-5 h between the sol-air peak and the heat-flux peak (ASHRAE CLTD tables,
# construction groups E-G). A first-order lag with this time constant delays a daily cycle
# by about 2.5 h and damps it by a fifth.
CONDUCTION_LAG_H = 3.0
_TABLE_STEPS = 288  # 5-minute points per day
_lagged_days: dict[int, tuple[float, ...]] = {}


def lagged_envelope_irradiance(day_of_year: int, hour: float) -> float:
    """`envelope_irradiance` as it reaches the inside: through a first-order conduction lag.

    Computed for the day's periodic steady state (the same clear sky day after day), once
    per day of the year, on a 5-minute grid that is linearly interpolated.
    """
    table = _lagged_days.get(day_of_year)
    if table is None:
        table = _lagged_days[day_of_year] = _lagged_day(day_of_year)
    x = (hour % 24.0) * _TABLE_STEPS / 24.0
    i = int(x)
    low = table[i]
    return low + (table[i + 1] - low) * (x - i)


def _lagged_day(day_of_year: int) -> tuple[float, ...]:
    step_h = 24.0 / _TABLE_STEPS
    decay = math.exp(-step_h / CONDUCTION_LAG_H)
    # Mid-step samples, run for three days from zero: the start-up has died out by then.
    sun = [envelope_irradiance(day_of_year, (k + 0.5) * step_h) for k in range(_TABLE_STEPS)]
    lagged, y = [0.0] * (_TABLE_STEPS + 1), 0.0
    for _ in range(3):
        for k, x in enumerate(sun):
            lagged[k] = y
            y = y * decay + (1.0 - decay) * x
    lagged[_TABLE_STEPS] = y
    return tuple(lagged)
