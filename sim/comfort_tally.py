"""One report interval's comfort sums for a VEN: what its homes felt, and what their twins
(the no-event counterfactual) would have felt. The controller adds readings; M&V reads the
totals from telemetry. Nothing here decides anything."""

from __future__ import annotations

from sim.comfort import NOT_WARM
from sim.records import CircuitReading

NO_COLD_WATER = (0.0, 0.0)  # shared by every interval without cold-water minutes

__all__ = ["ComfortTally"]


class ComfortTally:
    __slots__ = ("cold", "felt_dm", "twin_cold", "twin_warm", "warm")

    def __init__(self) -> None:
        self.warm = NOT_WARM  # HVAC (minutes, degree-minutes) past setpoint + tolerance
        self.twin_warm = NOT_WARM  # the same for the circuits' twins
        self.cold = self.twin_cold = 0.0  # water heaters' cold-water minutes, and the twins'
        self.felt_dm = 0.0  # degree-minutes past the setpoint itself: what occupants feel

    def add(self, reading: CircuitReading, twin_comfort: float | None, has_twin: bool) -> None:
        """Add one circuit's reading; without a twin, the circuit is its own twin."""
        if reading.hot_water:
            self.cold += reading.comfort_minutes
            self.twin_cold += twin_comfort or 0.0
        warm = reading.warm
        if warm is not None:
            twin = reading.twin_warm if has_twin else warm
            # Adding NOT_WARM's zeros to these sums (never negative) leaves them as they are:
            # skipped, most intervals' rows share the one NOT_WARM pair rather than a new one.
            if warm is not NOT_WARM:
                self.warm = (self.warm[0] + warm[0], self.warm[1] + warm[1])
            if twin is not None and twin is not NOT_WARM:
                self.twin_warm = (self.twin_warm[0] + twin[0], self.twin_warm[1] + twin[1])
            self.felt_dm += reading.felt_dm or 0.0

    def cold_water(self) -> tuple[float, float]:
        """(cold-water minutes, the twins'): the one shared pair when both are nought."""
        cold, twin = self.cold, self.twin_cold
        return (cold, twin) if cold or twin else NO_COLD_WATER
