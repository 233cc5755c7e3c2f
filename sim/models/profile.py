"""Daily-profile loads: lighting, outlets, dryer, range and refrigerator.

Randomness is drawn once per simulated day from the circuit's own rng (hourly noise
knots, appliance start times and durations), never per step, so a step is a handful
of arithmetic operations and a seed reproduces the same day.
"""

from __future__ import annotations

import math
import random
from abc import abstractmethod
from array import array

from sim.models.base import Circuit, StepEnv, StepPlan

_INF = math.inf
_HALF_STEP_H = 1.0 / 7200.0  # seconds -> hours, halved: profiles are sampled mid-step

# Fractions of peak by hour of day (0..23).
LIGHTING_SHAPE = (
    0.15, 0.08, 0.05, 0.05, 0.05, 0.10, 0.35, 0.45, 0.30, 0.15, 0.10, 0.10,
    0.10, 0.10, 0.10, 0.12, 0.20, 0.40, 0.70, 0.90, 1.00, 0.95, 0.70, 0.35,
)
OUTLET_SHAPE = (
    0.15, 0.10, 0.10, 0.10, 0.10, 0.15, 0.40, 0.60, 0.50, 0.40, 0.35, 0.40,
    0.45, 0.40, 0.35, 0.40, 0.50, 0.70, 0.85, 1.00, 1.00, 0.90, 0.60, 0.30,
)


class _WalkedLoad(Circuit):
    """A load without a comfort band whose physics walks a span's steps in one loop: no call
    per step, the same operations as Circuit.run_steps calling `_step` for each."""

    __slots__ = ()

    def _step(self, env: StepEnv, dt: float) -> float:
        return self._walk(((env, dt),))[1]

    def run_steps(self, steps: StepPlan) -> tuple[float, float, bool]:
        if not self.enabled:
            return super().run_steps(steps)
        energy_kws, power = self._walk(steps)
        self.power_kw = power
        energy = energy_kws / 3600.0
        self.energy_kwh += energy
        return energy, 0.0, False

    @abstractmethod
    def _walk(self, steps: StepPlan) -> tuple[float, float]:
        """Take the steps; (the energy in kW-seconds, the last step's power)."""


class ShapedLoad(_WalkedLoad):
    """base_kw + peak_kw * shape(hour) * noise(hour); hourly knots, linearly interpolated.

    The noise knots are redrawn each day and join the previous day's last knot, so the
    curve stays continuous. `max_dim` > 0 makes the load dimmable by that fraction.
    """

    __slots__ = ("peak_kw", "base_kw", "noise", "max_dim", "_rng", "_shape", "_curve",
                 "_knot", "_last_hour", "_natural")

    def __init__(
        self,
        circuit_id: str,
        name: str,
        breaker_amps: int,
        *,
        critical: bool = False,
        priority: int = 5,
        rng: random.Random | None = None,
        shape: tuple[float, ...] = OUTLET_SHAPE,
        peak_kw: float = 0.6,
        base_kw: float = 0.0,
        noise: float = 0.2,
        max_dim: float = 0.0,
        scale: float = 1.0,
    ) -> None:
        super().__init__(circuit_id, name, breaker_amps, critical=critical, priority=priority)
        if len(shape) != 24:
            raise ValueError("a daily shape needs 24 hourly values")
        self._rng = rng or random.Random(0)
        self._shape = tuple(shape)
        self.peak_kw = peak_kw * scale
        self.base_kw = base_kw * scale
        self.noise = noise
        self.max_dim = max_dim
        self._knot = self._draw_knot()
        # Doubles in an array, not float objects in a list: 280 bytes a day's curve, not 912
        # (two per VEN); the same values, read as floats.
        self._curve = array("d", bytes(8 * 25))
        self._last_hour = 99.0
        self._natural = 0.0

    def _draw_knot(self) -> float:
        return min(2.0, max(0.3, 1.0 + self.noise * self._rng.gauss(0.0, 1.0)))

    def _new_day(self) -> None:
        knots = [self._knot] + [self._draw_knot() for _ in range(24)]
        self._knot = knots[24]
        shape = self._shape
        self._curve = array(
            "d", [self.base_kw + self.peak_kw * shape[i % 24] * knots[i] for i in range(25)]
        )

    def _walk(self, steps: StepPlan) -> tuple[float, float]:
        energy_kws = power = 0.0
        last_hour = self._last_hour
        shed = self.shed_request_kw
        max_dim = self.max_dim
        dims = shed > 0.0 and max_dim > 0.0
        natural = self._natural
        curve = self._curve
        for env, dt in steps:
            hour = env.hour
            # A new day is a wrap past midnight; an hour back at a DST change is not.
            if hour < last_hour - 12.0:
                self._new_day()
                curve = self._curve
            last_hour = hour
            h = hour + dt * _HALF_STEP_H
            if h >= 24.0:
                h -= 24.0
            i = int(h)
            low = curve[i]
            power = natural = low + (curve[i + 1] - low) * (h - i)
            if dims:
                cut = power * max_dim
                power -= shed if shed < cut else cut
            energy_kws += power * dt
        self._last_hour = last_hour
        self._natural = natural
        return energy_kws, power

    def shed_capability_kw(self) -> float:
        return self._natural * self.max_dim


class Lighting(ShapedLoad):
    """Evening-heavy lighting; dimmable by up to 30 %."""

    type = "Lighting Circuits"
    __slots__ = ()

    def __init__(self, circuit_id: str, name: str, breaker_amps: int, *, critical: bool = False,
                 priority: int = 4, rng: random.Random | None = None, peak_kw: float = 0.25,
                 base_kw: float = 0.01, max_dim: float = 0.3, scale: float = 1.0) -> None:
        super().__init__(circuit_id, name, breaker_amps, critical=critical, priority=priority,
                         rng=rng, shape=LIGHTING_SHAPE, peak_kw=peak_kw, base_kw=base_kw,
                         noise=0.2, max_dim=max_dim, scale=scale)


class Outlets(ShapedLoad):
    """Plug loads: always-on base plus daytime and evening use; 10 % sheddable (smart plugs)."""

    type = "General Outlets"
    __slots__ = ()

    def __init__(self, circuit_id: str, name: str, breaker_amps: int, *, critical: bool = False,
                 priority: int = 2, rng: random.Random | None = None, peak_kw: float = 0.4,
                 base_kw: float = 0.1, max_dim: float = 0.1, scale: float = 1.0) -> None:
        super().__init__(circuit_id, name, breaker_amps, critical=critical, priority=priority,
                         rng=rng, shape=OUTLET_SHAPE, peak_kw=peak_kw, base_kw=base_kw,
                         noise=0.25, max_dim=max_dim, scale=scale)


class ApplianceLoad(Circuit):
    """Whole appliance cycles planned per day, run one after another.

    A run is [start_t, remaining_s, kw]. A pausable appliance draws nothing while a shed
    is requested; its due runs keep their remaining time and resume on restore.
    """

    __slots__ = ("scale", "pausable", "_rng", "_runs", "_i", "_next_start", "_last_hour",
                 "_t_end")

    def __init__(self, circuit_id: str, name: str, breaker_amps: int, *, critical: bool,
                 priority: int, rng: random.Random | None, pausable: bool, scale: float) -> None:
        super().__init__(circuit_id, name, breaker_amps, critical=critical, priority=priority)
        self._rng = rng or random.Random(0)
        self.pausable = pausable
        self.scale = scale
        self._runs: list[list[float]] = []
        self._i = 0
        self._next_start = _INF
        self._last_hour = 99.0
        self._t_end = 0.0

    def _plan(self, day_start: float) -> list[list[float]]:
        raise NotImplementedError

    def add_run(self, start_t: float, duration_s: float, kw: float) -> None:
        """Queue one cycle (sim seconds); it waits for earlier runs to finish."""
        self._runs.append([start_t, duration_s, kw])
        self._runs[self._i :] = sorted(self._runs[self._i :])
        self._next_start = self._runs[self._i][0]

    def _step(self, env: StepEnv, dt: float) -> float:
        hour = env.hour
        # A new day is a wrap past midnight; an hour back at a DST change is not.
        if hour < self._last_hour - 12.0:
            for start, duration, kw in self._plan(env.t - hour * 3600.0):
                if start >= env.t:  # a first day that starts mid-day skips earlier cycles
                    self.add_run(start, duration, kw)
        self._last_hour = hour
        t = env.t
        end = t + dt
        self._t_end = end
        if self._next_start >= end or (self.pausable and self.shed_request_kw > 0.0):
            return 0.0
        runs = self._runs
        i = self._i
        n = len(runs)
        cursor = t
        kw_s = 0.0
        while i < n:
            run = runs[i]
            start = run[0] if run[0] > cursor else cursor
            if start >= end:
                break
            span = end - start
            remaining = run[1]
            if remaining > span:
                run[1] = remaining - span
                kw_s += run[2] * span
                break
            kw_s += run[2] * remaining
            cursor = start + remaining
            i += 1
        if i > 64:  # drop finished runs now and then
            del runs[:i]
            i = 0
        self._i = i
        self._next_start = runs[i][0] if i < len(runs) else _INF
        return kw_s / dt

    def run_steps(self, steps: StepPlan) -> tuple[float, float, bool]:
        # Most of an appliance's day is idle: no run due before the span ends (or paused by
        # a shed), and no new day planned in it. Each `_step` would then only record the
        # hour and the step's end and draw 0.0, so the span's state is set in one pass.
        if self.enabled and steps:
            last_hour = self._last_hour
            for env, _dt in steps:
                if env.hour < last_hour - 12.0:  # a new day: `_step` plans it
                    return super().run_steps(steps)
                last_hour = env.hour
            env, dt = steps[-1]
            end = env.t + dt
            if self._next_start >= end or (self.pausable and self.shed_request_kw > 0.0):
                self._last_hour = last_hour
                self._t_end = end
                self.power_kw = 0.0
                return 0.0, 0.0, False
        return super().run_steps(steps)

    def demand_kw(self) -> float:
        """kW of the run that is due now (running or paused)."""
        if self._next_start < self._t_end:
            return self._runs[self._i][2]
        return 0.0

    def shed_capability_kw(self) -> float:
        return self.demand_kw() if self.pausable else 0.0


class Dryer(ApplianceLoad):
    """Electric dryer: ~4.5 kW cycles of 45-60 min; shed by pausing (deferred, not lost)."""

    type = "Dryer"
    __slots__ = ("kw", "loads_per_day", "start_hours")

    def __init__(self, circuit_id: str, name: str, breaker_amps: int, *, critical: bool = False,
                 priority: int = 6, rng: random.Random | None = None, kw: float = 4.5,
                 loads_per_day: float = 0.7, start_hours: tuple[float, ...] = (10.0, 14.0, 19.5),
                 scale: float = 1.0) -> None:
        super().__init__(circuit_id, name, breaker_amps, critical=critical, priority=priority,
                         rng=rng, pausable=True, scale=scale)
        self.kw = kw
        self.loads_per_day = loads_per_day
        self.start_hours = start_hours

    def _plan(self, day_start: float) -> list[list[float]]:
        rng = self._rng
        whole = int(self.loads_per_day)
        loads = whole + (rng.random() < self.loads_per_day - whole)
        runs = []
        for _ in range(loads):
            hour = min(23.0, max(6.0, rng.choice(self.start_hours) + rng.gauss(0.0, 1.0)))
            minutes = rng.uniform(45.0, 60.0)
            runs.append([day_start + hour * 3600.0, minutes * 60.0, self.kw * self.scale])
        return runs


# Meals: (probability, mean start hour, minutes low/high, kW low/high).
_MEALS = (
    (0.4, 7.5, 10.0, 20.0, 1.2, 2.0),
    (0.25, 12.5, 10.0, 20.0, 1.2, 2.0),
    (0.85, 18.0, 30.0, 60.0, 2.0, 3.5),
)


class ElectricRange(ApplianceLoad):
    """Cooking around meal times; never shed (priority 2)."""

    type = "Electric Range"
    __slots__ = ()

    def __init__(self, circuit_id: str, name: str, breaker_amps: int, *, critical: bool = False,
                 priority: int = 2, rng: random.Random | None = None, scale: float = 1.0) -> None:
        super().__init__(circuit_id, name, breaker_amps, critical=critical, priority=priority,
                         rng=rng, pausable=False, scale=scale)

    def _plan(self, day_start: float) -> list[list[float]]:
        rng = self._rng
        runs = []
        for chance, hour, min_lo, min_hi, kw_lo, kw_hi in _MEALS:
            # Draw everything so skipping a meal does not shift later draws.
            cooks = rng.random() < chance
            start = day_start + (hour + rng.gauss(0.0, 0.5)) * 3600.0
            duration = rng.uniform(min_lo, min_hi) * 60.0
            kw = rng.uniform(kw_lo, kw_hi) * self.scale
            if cooks:
                runs.append([start, duration, kw])
        return runs


class Refrigerator(_WalkedLoad):
    """Compressor duty cycle (~60 W mean, 1.4 kWh/day); critical, never shed.

    The on/off square wave is integrated exactly over the step, so any dt gives the
    right mean. Period and duty vary a little from day to day.
    """

    type = "Refrigerator"
    __slots__ = ("compressor_kw", "duty", "period_s", "_rng", "_phase", "_on_s", "_period",
                 "_last_hour")

    def __init__(self, circuit_id: str, name: str, breaker_amps: int, *, critical: bool = True,
                 priority: int = 1, rng: random.Random | None = None,
                 compressor_kw: float = 0.15, duty: float = 0.4, period_s: float = 2400.0,
                 scale: float = 1.0) -> None:
        super().__init__(circuit_id, name, breaker_amps, critical=critical, priority=priority)
        self._rng = rng or random.Random(0)
        self.compressor_kw = compressor_kw * scale
        self.duty = duty
        self.period_s = period_s
        self._phase = self._rng.uniform(0.0, period_s)
        self._period = period_s
        self._on_s = duty * period_s
        self._last_hour = 99.0

    def _walk(self, steps: StepPlan) -> tuple[float, float]:
        energy_kws = power = 0.0
        last_hour = self._last_hour
        period = self._period
        on = self._on_s
        phase = self._phase
        compressor_kw = self.compressor_kw
        for env, dt in steps:
            hour = env.hour
            # A new day is a wrap past midnight; an hour back at a DST change is not.
            if hour < last_hour - 12.0:
                rng = self._rng
                period = self._period = self.period_s * rng.uniform(0.85, 1.15)
                on = self._on_s = period * min(0.9, max(0.1, self.duty * rng.uniform(0.9, 1.1)))
            last_hour = hour
            x = env.t + phase
            a = x % period
            b = (x + dt) % period
            # Whole cycles crossed contribute `on` each; the partial ends are clipped at `on`.
            on_time = (dt - b + a) / period * on + (b if b < on else on) - (a if a < on else on)
            power = compressor_kw * on_time / dt
            energy_kws += power * dt
        self._last_hour = last_hour
        return energy_kws, power

    def floor_kw(self) -> float:
        return self.power_kw
