"""Home battery in one of three operating modes; discharges further when asked to shed."""

from __future__ import annotations

import math
import random

from sim.models.base import Circuit, StepEnv

BATTERY_MODES = ("backup", "self_consumption", "tou")


class Battery(Circuit):
    """State of charge with one-way efficiencies sqrt(round trip) and a reserve.

    What it does on its own (`mode`):

    * `self_consumption`: charges only from PV surplus and covers the evening. The battery
      does not see the meter: it takes the house as a steady `house_kw` against the
      array's output `pv_kw_peak * irradiance`, and discharges only between
      `peak_start_hour` and `peak_end_hour`, when a house reliably draws that much
      (overnight it would export).
    * `tou` (time of use): charges from the grid at `charge_kw` between `charge_start_hour`
      and `charge_end_hour` (off-peak), covers `house_kw` between `peak_start_hour` and
      `peak_end_hour`, idles otherwise.
    * `backup`: keeps itself full, charging from the grid at `charge_kw`; discharges only
      when asked to shed.

    A shed request lowers its draw by that much (discharging down to `reserve_soc`, at
    most `max_kw`); afterwards the mode recharges it. The capability it reports is bounded
    by the energy above the reserve spread over `event_hours`, so a VTN does not count on
    5 kW from a battery that can hold 5 kW for ten minutes.
    """

    type = "Battery"
    __slots__ = (
        "capacity_kwh", "max_kw", "round_trip_efficiency", "reserve_soc", "charge_kw", "mode",
        "pv_kw_peak", "house_kw", "charge_start_hour", "charge_end_hour", "peak_start_hour",
        "peak_end_hour", "event_hours", "soc", "_eff", "_natural",
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
        mode: str = "tou",
        pv_kw_peak: float = 0.0,
        house_kw: float = 0.8,
        charge_kw: float | None = None,
        charge_start_hour: float = 0.0,
        charge_end_hour: float = 6.0,
        peak_start_hour: float = 16.0,
        peak_end_hour: float = 22.0,
        event_hours: float = 2.0,
    ) -> None:
        super().__init__(circuit_id, name, breaker_amps, critical=critical, priority=priority)
        if capacity_kwh <= 0 or max_kw <= 0 or not 0.0 < round_trip_efficiency <= 1.0:
            raise ValueError("battery capacity_kwh and max_kw must be positive, efficiency 0..1")
        if not 0.0 <= reserve_soc < 1.0:
            raise ValueError("battery reserve_soc must be within 0..1")
        if mode not in BATTERY_MODES:
            raise ValueError(f"battery mode must be one of {', '.join(BATTERY_MODES)}, "
                             f"not {mode!r}")
        if event_hours <= 0:
            raise ValueError("battery event_hours must be positive")
        self.capacity_kwh = capacity_kwh
        self.max_kw = max_kw
        self.round_trip_efficiency = round_trip_efficiency
        self.reserve_soc = reserve_soc
        self.mode = mode
        self.pv_kw_peak = pv_kw_peak
        self.house_kw = min(house_kw, max_kw)
        # Modest grid charging: ~a third of the power limit, enough to fill off-peak.
        self.charge_kw = min(max_kw, 0.3 * max_kw if charge_kw is None else charge_kw)
        self.charge_start_hour = charge_start_hour
        self.charge_end_hour = charge_end_hour
        self.peak_start_hour = peak_start_hour
        self.peak_end_hour = peak_end_hour
        self.event_hours = event_hours
        self.soc = min(1.0, max(0.0, initial_soc))
        self._eff = math.sqrt(round_trip_efficiency)  # each way
        self._natural = 0.0

    def natural_kw(self, env: StepEnv) -> float:
        """What the mode asks of the battery now (kW, + charging), before limits."""
        hour = env.hour
        if self.mode == "self_consumption":
            net = self.pv_kw_peak * env.irradiance - self.house_kw
            if net >= 0.0:
                return min(net, self.max_kw)
            return -self.house_kw if self.peak_start_hour <= hour < self.peak_end_hour else 0.0
        if self.mode == "tou":
            if self.charge_start_hour <= hour < self.charge_end_hour:
                return self.charge_kw
            if self.peak_start_hour <= hour < self.peak_end_hour:
                return -self.house_kw
            return 0.0
        return self.charge_kw  # backup: top up whenever below full

    def _step(self, env: StepEnv, dt: float) -> float:
        soc = self.soc
        natural = self.natural_kw(env)
        if (natural > 0.0 and soc >= 1.0) or (natural < 0.0 and self.available_kwh <= 0.0):
            natural = 0.0
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
        available = self.available_kwh
        if available <= 0.0:
            return 0.0
        if -power * hours > available:
            power = -available / hours
        soc += power * hours / self._eff / self.capacity_kwh
        self.soc = soc if soc > self.reserve_soc else self.reserve_soc
        return power

    @property
    def available_kwh(self) -> float:
        """Energy it can still deliver above the reserve, after conversion losses."""
        return max(0.0, (self.soc - self.reserve_soc) * self.capacity_kwh * self._eff)

    def shed_capability_kw(self) -> float:
        # Down from what it does now to the deepest discharge it can hold for event_hours.
        sustained = min(self.max_kw, self.available_kwh / self.event_hours)
        return max(0.0, self._natural + sustained)

    @property
    def locked_out(self) -> bool:
        return self.available_kwh <= 1e-9 and self._natural <= 0.0
