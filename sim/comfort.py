"""Thermal comfort as programs count it: time and degree-time past the setpoint plus a tolerance.

A model's own `comfort_violated` says when it would give way (HVAC leaves its comfort band);
programs ask instead how long, and by how much, a home sat warmer than its occupants chose
(cooler, when heating). Sampled at the end of each metered interval, for circuits with an
`indoor_c` and a `setpoint_c` (HVAC), and the same for their twins, so M&V can net it out.
"""

from __future__ import annotations

from typing import Any

TOLERANCE_C = 1.0  # past the setpoint by more than this counts
NOT_WARM = (0.0, 0.0)  # (minutes, degree-minutes) of a span not past the tolerance


def thermal(model: Any) -> bool:
    """True for circuits that keep a home's temperature."""
    return hasattr(model, "indoor_c") and hasattr(model, "setpoint_c")


def hot_water(model: Any) -> bool:
    """True for circuits that keep a tank of hot water: their own minutes out of comfort are
    cold-water minutes (a tank too cool for a shower), reported apart from thermal comfort."""
    return hasattr(model, "tank_c") and hasattr(model, "min_c")


def discomfort(model: Any, span_s: float, tolerance_c: float = TOLERANCE_C) -> tuple[float, float]:
    """(minutes, degree-minutes) past setpoint plus tolerance over a span ending now."""
    sign = -1.0 if getattr(model, "mode", "cool") == "heat" else 1.0
    excess = sign * (model.indoor_c - model.setpoint_c) - tolerance_c
    if excess <= 0.0:
        return NOT_WARM
    minutes = span_s / 60.0
    return minutes, excess * minutes


def warm_and_felt(model: Any, span_s: float) -> tuple[tuple[float, float], float]:
    """`discomfort` at the tolerance, and the degree-minutes past the setpoint itself (what
    occupants feel), from one reading of the temperatures."""
    sign = -1.0 if getattr(model, "mode", "cool") == "heat" else 1.0
    return warm_and_felt_past(sign * (model.indoor_c - model.setpoint_c), span_s)


def warm_and_felt_past(past: float, span_s: float) -> tuple[tuple[float, float], float]:
    """`warm_and_felt` of air `past` degrees past the setpoint (in the unit's direction) at the
    span's end: for a model that has already read its temperatures (`Hvac.reading_estimates`)."""
    if past <= 0.0:
        return NOT_WARM, 0.0
    minutes = span_s / 60.0
    excess = past - TOLERANCE_C
    return (minutes, excess * minutes) if excess > 0.0 else NOT_WARM, past * minutes
