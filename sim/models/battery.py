"""Home battery: light midday charging, discharges when asked to shed."""

from __future__ import annotations

import math
import random

from sim.models.base import Circuit, StepEnv


class Battery(Circuit):
    """State of charge with one-way efficiencies sqrt(round trip) and a reserve.

    Naturally it charges at `charge_kw` between `charge_start_hour` and `charge_end_hour`
    while not full, and idles otherwise. A shed request lowers its draw by that much, so
    outside the charging window `curtail(x)` discharges min(x, max_kw) (negative power)
    while the state of charge is above `reserve_soc`.
    """

    type = "Battery"
    __slots__ = (
        "capacity_kwh", "max_kw", "round_trip_efficiency", "reserve_soc", "charge_kw",
        "charge_start_hour", "charge_end_hour", "soc", "_eff", "_natural",
    )

    def __init__(
        self,
        circuit_id: str,
        name: str,
        breaker_amps: int,
        *,
        critical: bool = False,
        priority: int = 9,
        rng: random.Random | None = None,  # accepted for a uniform signature
        capacity_kwh: float = 13.5,
        max_kw: float = 5.0,
        round_trip_efficiency: float = 0.9,
        reserve_soc: float = 0.1,
        initial_soc: float = 0.5,
        charge_kw: float | None = None,
        charge_start_hour: float = 10.0,
        charge_end_hour: float = 14.0,
    ) -> None:
        super().__init__(circuit_id, name, breaker_amps, critical=critical, priority=priority)
        if capacity_kwh <= 0 or max_kw <= 0 or not 0.0 < round_trip_efficiency <= 1.0:
            raise ValueError("battery capacity_kwh and max_kw must be positive, efficiency 0..1")
        if not 0.0 <= reserve_soc < 1.0:
            raise ValueError("battery reserve_soc must be within 0..1")
        self.capacity_kwh = capacity_kwh
        self.max_kw = max_kw
        self.round_trip_efficiency = round_trip_efficiency
        self.reserve_soc = reserve_soc
        # Modest charging: ~a third of the power limit, enough to fill in the window.
        self.charge_kw = min(max_kw, 0.3 * max_kw if charge_kw is None else charge_kw)
        self.charge_start_hour = charge_start_hour
        self.charge_end_hour = charge_end_hour
        self.soc = min(1.0, max(0.0, initial_soc))
        self._eff = math.sqrt(round_trip_efficiency)  # each way
        self._natural = 0.0

    def _step(self, env: StepEnv, dt: float) -> float:
        soc = self.soc
        hour = env.hour
        natural = (
            self.charge_kw
            if self.charge_start_hour <= hour < self.charge_end_hour and soc < 1.0
            else 0.0
        )
        self._natural = natural
        power = natural - self.shed_request_kw
        if power == 0.0:
            return 0.0
        hours = dt / 3600.0
        if power > 0.0:
            room = (1.0 - soc) * self.capacity_kwh / self._eff  # grid kWh to fill up
            if power * hours > room:
                power = room / hours
            soc += power * hours * self._eff / self.capacity_kwh
            self.soc = soc if soc < 1.0 else 1.0
            return power
        if power < -self.max_kw:
            power = -self.max_kw
        available = (soc - self.reserve_soc) * self.capacity_kwh * self._eff  # kWh out
        if available <= 0.0:
            return 0.0
        if -power * hours > available:
            power = -available / hours
        soc += power * hours / self._eff / self.capacity_kwh
        self.soc = soc if soc > self.reserve_soc else self.reserve_soc
        return power

    def shed_capability_kw(self) -> float:
        # Stopping the charge plus discharging up to the power limit while above reserve.
        discharge = self.max_kw if self.soc > self.reserve_soc + 1e-9 else 0.0
        return self._natural + discharge

    @property
    def locked_out(self) -> bool:
        return self.soc <= self.reserve_soc + 1e-9 and self._natural == 0.0
