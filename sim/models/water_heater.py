"""Electric tank water heater: a fully mixed tank with standby loss and hot-water draws."""

from __future__ import annotations

import bisect
import math
import random
from array import array

from sim.models.base import Circuit, ComfortLimits, ReadingEstimates, StepEnv, StepPlan

KJ_PER_LITRE_C = 4.186  # heat capacity of water
_INF = math.inf

# Relative hot-water use by hour of day: residential morning and evening peaks.
DRAW_PROFILE = (
    0.5, 0.3, 0.2, 0.2, 0.4, 1.5, 4.0, 6.0, 5.5, 4.0, 3.0, 2.5,
    2.5, 2.0, 1.8, 1.8, 2.2, 3.0, 4.5, 5.0, 4.5, 3.5, 2.5, 1.2,
)
_CUM_PROFILE = [sum(DRAW_PROFILE[: i + 1]) for i in range(24)]


class WaterHeater(Circuit):
    """Resistive element with a thermostat; curtailment coasts on the tank's stored heat.

    Tank temperature T obeys dT/dt = g_loss (T_amb - T) + g_draw (T_in - T) + P / C, a
    linear ODE solved exactly per step (draws mix in cold water at `inlet_c`). The
    energy that leaves through losses and draws is integrated exactly as well, so
    element energy == tank energy rise + draw energy + loss energy.
    """

    type = "Water Heater"
    steps_when_disabled = True
    __slots__ = (
        "tank_liters", "liters_per_day", "element_kw", "setpoint_c", "deadband_c", "min_c",
        "inlet_c", "ambient_c", "ua_kw_per_c", "tank_c", "draw_energy_kwh", "loss_energy_kwh",
        "drawn_liters", "_seasonal", "_rng", "_c_kj", "_g_loss", "_dt", "_k", "_frac", "_demand",
        "_locked", "_unlock_c", "_mean_kw", "_events", "_ev_i", "_next_draw", "_last_hour",
    )

    def __init__(
        self,
        circuit_id: str,
        name: str,
        breaker_amps: int,
        *,
        critical: bool = False,
        priority: int = 7,
        rng: random.Random | None = None,
        tank_liters: float = 190.0,
        liters_per_day: float = 180.0,
        element_kw: float = 4.5,
        setpoint_c: float = 55.0,
        deadband_c: float = 5.0,
        min_c: float = 45.0,
        inlet_c: float | None = None,  # None: the world's seasonal mains temperature
        ambient_c: float = 20.0,
        ua_kw_per_c: float = 0.0015,  # ~1.2 kWh/day standby at 55 degC in a 20 degC room
        initial_c: float | None = None,
        lockout_hysteresis_c: float = 2.0,
    ) -> None:
        super().__init__(circuit_id, name, breaker_amps, critical=critical, priority=priority)
        if tank_liters <= 0 or ua_kw_per_c <= 0 or element_kw < 0 or liters_per_day < 0:
            raise ValueError("water heater tank_liters and ua_kw_per_c must be positive")
        self._rng = rng or random.Random(0)
        self.tank_liters = tank_liters
        self.liters_per_day = liters_per_day
        self.element_kw = element_kw
        self.setpoint_c = setpoint_c
        self.deadband_c = deadband_c
        self.min_c = min_c
        self._seasonal = inlet_c is None
        self.inlet_c = 15.0 if inlet_c is None else inlet_c  # until the first step says
        self.ambient_c = ambient_c
        self.ua_kw_per_c = ua_kw_per_c
        if initial_c is None:
            initial_c = self._rng.uniform(setpoint_c - deadband_c, setpoint_c)
        self.tank_c = initial_c
        self.draw_energy_kwh = 0.0  # heat carried out by hot water, relative to the inlet
        self.loss_energy_kwh = 0.0  # standby loss through the jacket
        self.drawn_liters = 0.0
        self._c_kj = tank_liters * KJ_PER_LITRE_C  # tank heat capacity, kJ/degC
        self._g_loss = ua_kw_per_c / self._c_kj  # 1/s
        self._dt = -1.0
        self._k = 0.0
        self._frac = 0.0  # (1 - k) / g for standby-only steps
        self._demand = initial_c <= setpoint_c - deadband_c  # thermostat state, uncurtailed
        self._locked = False
        self._unlock_c = min_c + lockout_hysteresis_c
        self._mean_kw = 0.0
        self._set_inlet(self.inlet_c)
        # Flat (start_t, end_t, litres/s) triples: doubles, not tuples of floats (about 1 KB a
        # VEN less for a day's ten draws).
        self._events = array("d")
        self._ev_i = 0
        self._next_draw = _INF
        self._last_hour = 99.0

    def _set_inlet(self, inlet_c: float) -> None:
        self.inlet_c = inlet_c
        # Daily mean element power: reheat the draws from the inlet plus the standby loss.
        reheat_kwh = self.liters_per_day * KJ_PER_LITRE_C * (self.setpoint_c - inlet_c) / 3600.0
        self._mean_kw = reheat_kwh / 24.0 + self.ua_kw_per_c * (self.setpoint_c - self.ambient_c)

    def _step(self, env: StepEnv, dt: float) -> float:
        return self._walk(((env, dt),), -_INF)[1]

    def run_steps(self, steps: StepPlan) -> tuple[float, float, bool]:
        # A span in one loop: no call per step, the tank's constants read once (the same
        # operations as Circuit.run_steps calling `_step` for each).
        _, _, low, _ = self.comfort_limits()
        energy_kws, power, comfort_s, violated = self._walk(steps, low)
        self.power_kw = power
        energy = energy_kws / 3600.0
        self.energy_kwh += energy
        return energy, comfort_s, violated

    def _walk(self, steps: StepPlan, low: float) -> tuple[float, float, float, bool]:
        """Take the steps; (energy kW-seconds, the last step's power, seconds with the tank
        below `low`, below it at the end)."""
        energy_kws = power = comfort_s = 0.0
        violated = False
        if not steps:
            return energy_kws, power, comfort_s, violated
        seasonal, last_hour = self._seasonal, self._last_hour
        tank, demand, locked = self.tank_c, self._demand, self._locked
        setpoint, deadband, min_c, unlock_c = (
            self.setpoint_c, self.deadband_c, self.min_c, self._unlock_c)
        # The element runs when enabled, locked out (it must), or on demand unless shed.
        enabled, sheds = self.enabled, self.shed_request_kw > 0.0
        element_kw, c_kj, g_loss, ambient = (
            self.element_kw, self._c_kj, self._g_loss, self.ambient_c)
        ua, tank_liters = self.ua_kw_per_c, self.tank_liters
        loss_kwh, draw_kwh, drawn = self.loss_energy_kwh, self.draw_energy_kwh, self.drawn_liters
        for env, dt in steps:
            if seasonal and env.mains_c != self.inlet_c:
                self._set_inlet(env.mains_c)
            hour = env.hour
            # A new day is a wrap past midnight; an hour back at a DST change is not.
            if hour < last_hour - 12.0:
                self._plan_day(env.t - hour * 3600.0)
            last_hour = hour
            t_tank = tank
            t = env.t
            # Thermostat (what the heater would do uncurtailed) and the low-temperature lockout.
            if demand:
                if t_tank >= setpoint:
                    demand = False
            elif t_tank <= setpoint - deadband:
                demand = True
            if locked:
                if t_tank >= unlock_c:
                    locked = False
            elif t_tank < min_c:
                locked = True
            power = element_kw if enabled and (locked or (demand and not sheds)) else 0.0

            end = t + dt
            litres = self._draw(t, end) if self._next_draw < end else 0.0
            heat = power / c_kj
            if litres == 0.0:
                if dt != self._dt:
                    self._dt = dt
                    self._k = math.exp(-g_loss * dt)
                    self._frac = (1.0 - self._k) / g_loss
                t_eq = ambient + heat / g_loss
                k = self._k
                frac = self._frac
                g_draw = 0.0
            else:
                g_draw = litres / (dt * tank_liters)
                g = g_loss + g_draw
                t_eq = (g_loss * ambient + g_draw * self.inlet_c + heat) / g
                k = math.exp(-g * dt)
                frac = (1.0 - k) / g
            tank = t_eq + (t_tank - t_eq) * k
            # Exact integral of T over the step splits the outflow between loss and draw.
            integral = t_eq * dt + (t_tank - t_eq) * frac
            loss_kwh += ua * (integral - ambient * dt) / 3600.0
            if g_draw:
                drawn += litres
                draw_kwh += litres / dt * KJ_PER_LITRE_C * (integral - self.inlet_c * dt) / 3600.0
            energy_kws += power * dt
            violated = not low <= tank
            if violated:
                comfort_s += dt
        self._last_hour, self.tank_c, self._demand, self._locked = last_hour, tank, demand, locked
        self.loss_energy_kwh, self.draw_energy_kwh, self.drawn_liters = loss_kwh, draw_kwh, drawn
        return energy_kws, power, comfort_s, violated

    def _draw(self, t: float, end: float) -> float:
        """Litres drawn during [t, end); draws never overlap (sequenced when planned)."""
        events = self._events
        i = self._ev_i
        n = len(events)
        litres = 0.0
        while i < n:
            start, stop, flow = events[i], events[i + 1], events[i + 2]
            if start >= end:
                break
            a = start if start > t else t
            b = stop if stop < end else end
            if b > a:
                litres += flow * (b - a)
            if stop > end:
                break
            i += 3
        self._ev_i = i
        self._next_draw = events[i] if i < n else _INF
        return litres

    def _plan_day(self, day_start: float) -> None:
        """Draw events for one day: showers and small draws at profile-weighted times."""
        rng = self._rng
        target = self.liters_per_day * rng.uniform(0.8, 1.2)
        planned: list[tuple[float, float, float]] = []
        total = 0.0
        while target - total > 1.0:
            if rng.random() < 0.25:  # shower or bath, ~8 L/min
                litres, flow = rng.uniform(35.0, 60.0), rng.uniform(0.12, 0.16)
            else:  # sink, dishwasher or washer fill
                litres, flow = rng.uniform(2.0, 15.0), rng.uniform(0.08, 0.15)
            litres = min(litres, target - total)
            hour = bisect.bisect_right(_CUM_PROFILE, rng.random() * _CUM_PROFILE[-1])
            start = day_start + (min(hour, 23) + rng.random()) * 3600.0
            planned.append((start, litres / flow, flow))
            total += litres
        planned.sort()
        events = self._events[self._ev_i :]
        cursor = events[-2] if events else -_INF
        for start, duration, flow in planned:
            start = max(start, cursor)
            cursor = start + duration
            events.extend((start, cursor, flow))
        self._events = events
        self._ev_i = 0
        self._next_draw = events[0] if events else _INF

    # -- curtailment ------------------------------------------------------------
    def shed_capability_kw(self) -> float:
        if self._locked:
            return 0.0
        return self.element_kw if self._demand else self._mean_kw

    def floor_kw(self) -> float:
        return self.element_kw if self._locked else 0.0

    def reading_estimates(self, span_s: float) -> ReadingEstimates:
        # shed_capability_kw(), locked_out, floor_kw() and tank_c in one call.
        locked, element = self._locked, self.element_kw
        if locked:
            return 0.0, None, locked, element, None, None, self.tank_c
        capability = element if self._demand else self._mean_kw
        return capability, None, locked, 0.0, None, None, self.tank_c

    @property
    def locked_out(self) -> bool:
        return self._locked

    def tank_energy_kwh(self) -> float:
        """Heat stored above the inlet temperature."""
        return self._c_kj * (self.tank_c - self.inlet_c) / 3600.0

    def comfort_limits(self) -> ComfortLimits:
        return self, "tank_c", self.min_c - 5.0, _INF  # below: lukewarm showers
