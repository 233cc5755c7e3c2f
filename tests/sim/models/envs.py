"""Shared weather for the model tests: a hot, clear summer day."""

from __future__ import annotations

import math

from sim.models.base import StepEnv


def hot_day(t: float) -> StepEnv:
    """Outdoor 24 degC at 03:00 up to 35 degC at 15:00; clear sky 06:00-19:00."""
    hour = (t / 3600.0) % 24.0
    outdoor = 29.5 + 5.5 * math.cos((hour - 15.0) / 24.0 * 2.0 * math.pi)
    irradiance = math.sin(math.pi * (hour - 6.0) / 13.0) if 6.0 < hour < 19.0 else 0.0
    return StepEnv(t=t, epoch=1_750_000_000.0 + t, hour=hour, outdoor_c=outdoor,
                   irradiance=irradiance)


def constant(t: float, outdoor_c: float = 35.0, irradiance: float = 0.0,
             window_sun: float = 0.0) -> StepEnv:
    return StepEnv(t=t, epoch=1_750_000_000.0 + t, hour=(t / 3600.0) % 24.0,
                   outdoor_c=outdoor_c, irradiance=irradiance, window_sun=window_sun)


def runs(series: list[float]) -> list[tuple[bool, int]]:
    """Run-length encode on/off (power > 0) into (on, steps) pairs."""
    out: list[tuple[bool, int]] = []
    for p in series:
        on = p > 0.0
        if out and out[-1][0] == on:
            out[-1] = (on, out[-1][1] + 1)
        else:
            out.append((on, 1))
    return out
