"""Rooftop solar: generation follows the world's irradiance; never curtailed."""

from __future__ import annotations

import random

from sim.models.base import Circuit, StepEnv


class SolarPv(Circuit):
    """Power = -kw_peak * irradiance * derate (negative: generation)."""

    type = "Solar PV"
    __slots__ = ("kw_peak", "derate", "_gain")

    def __init__(
        self,
        circuit_id: str,
        name: str,
        breaker_amps: int,
        *,
        critical: bool = False,
        priority: int = 1,
        rng: random.Random | None = None,  # accepted for a uniform signature; PV is deterministic
        kw_peak: float = 6.0,
        derate: float = 0.85,  # inverter, wiring, soiling and temperature losses
    ) -> None:
        super().__init__(circuit_id, name, breaker_amps, critical=critical, priority=priority)
        if kw_peak < 0 or not 0.0 <= derate <= 1.0:
            raise ValueError("PV kw_peak must be >= 0 and derate within 0..1")
        self.kw_peak = kw_peak
        self.derate = derate
        self._gain = kw_peak * derate

    def _step(self, env: StepEnv, dt: float) -> float:
        irradiance = env.irradiance
        return -self._gain * irradiance if irradiance > 0.0 else 0.0  # no -0.0 at night
