"""One report interval's comfort sums for a VEN: what its homes felt, and what their twins
(the no-event counterfactual) would have felt. The controller adds readings; M&V reads the
totals from telemetry. Nothing here decides anything."""

from __future__ import annotations

from sim.records import CircuitReading

__all__ = ["ComfortTally"]


class ComfortTally:
    __slots__ = ("cold", "felt_dm", "twin_cold", "twin_warm", "warm")

    def __init__(self) -> None:
        self.warm = (0.0, 0.0)  # HVAC (minutes, degree-minutes) past setpoint + tolerance
        self.twin_warm = (0.0, 0.0)  # the same for the circuits' twins
        self.cold = self.twin_cold = 0.0  # water heaters' cold-water minutes, and the twins'
        self.felt_dm = 0.0  # degree-minutes past the setpoint itself: what occupants feel

    def add(self, reading: CircuitReading, twin_comfort: float | None, has_twin: bool) -> None:
        """Add one circuit's reading; without a twin, the circuit is its own twin."""
        if reading.hot_water:
            self.cold += reading.comfort_minutes
            self.twin_cold += twin_comfort or 0.0
        if reading.warm is not None:
            twin = reading.twin_warm if has_twin else reading.warm
            self.warm = (self.warm[0] + reading.warm[0], self.warm[1] + reading.warm[1])
            if twin is not None:
                self.twin_warm = (self.twin_warm[0] + twin[0], self.twin_warm[1] + twin[1])
            self.felt_dm += reading.felt_dm or 0.0
