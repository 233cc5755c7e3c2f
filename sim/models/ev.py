"""Level-2 EV charger: plug-in sessions whose curtailed energy is deferred, not lost."""

from __future__ import annotations

import math
import random

from sim.models.base import Circuit, StepEnv

_INF = math.inf
_DONE_KWH = 1e-9
# The car's battery is charged to this share of its capacity by departure: the daily charge
# limit carmakers recommend (80-90 %), the rest kept for trips.
DEPARTURE_SOC = 0.9


class EvCharger(Circuit):
    """Charges at full rate from arrival until the session's energy is delivered.

    A shed request caps the rate at `charger_kw - shed_request_kw`. The session must
    still finish by departure: when the remaining energy no longer fits into the time
    left after this step at full rate, the charger is `locked_out` and runs at full rate.
    Sessions are planned per day from the seeded rng (arrival ~18:00, departure ~07:00).

    The car's battery (`battery_kwh`) arrives `DEPARTURE_SOC` minus the session's energy
    short of its daily charge limit; `car_soc` is its state of charge while plugged in.
    """

    type = "EV Charger"
    steps_when_disabled = True
    __slots__ = (
        "charger_kw", "arrival_hour", "departure_hour", "mean_energy_kwh", "energy_min_kwh",
        "energy_max_kwh", "session_probability", "arrival_sd_h", "departure_sd_h",
        "energy_delivered_kwh", "session_energy_needed_kwh", "sessions_completed",
        "unmet_energy_kwh", "battery_kwh", "_rng", "_queue", "_arr", "_dep", "_active", "_locked",
        "_last_hour", "_t_end",
    )

    def __init__(
        self,
        circuit_id: str,
        name: str,
        breaker_amps: int,
        *,
        critical: bool = False,
        priority: int = 8,
        rng: random.Random | None = None,
        charger_kw: float = 7.2,
        arrival_hour: float = 18.0,
        departure_hour: float = 7.0,
        mean_energy_kwh: float = 15.0,
        energy_min_kwh: float = 8.0,
        energy_max_kwh: float = 25.0,
        session_probability: float = 0.85,
        arrival_sd_h: float = 1.0,
        departure_sd_h: float = 0.5,
        battery_kwh: float = 60.0,
    ) -> None:
        super().__init__(circuit_id, name, breaker_amps, critical=critical, priority=priority)
        if charger_kw <= 0 or battery_kwh <= 0:
            raise ValueError("EV charger_kw and battery_kwh must be positive")
        self.battery_kwh = battery_kwh
        self._rng = rng or random.Random(0)
        self.charger_kw = charger_kw
        self.arrival_hour = arrival_hour
        self.departure_hour = departure_hour
        self.mean_energy_kwh = mean_energy_kwh  # (self.energy_kwh is the meter)
        self.energy_min_kwh = min(energy_min_kwh, mean_energy_kwh)
        self.energy_max_kwh = max(energy_max_kwh, mean_energy_kwh)
        self.session_probability = session_probability
        self.arrival_sd_h = arrival_sd_h
        self.departure_sd_h = departure_sd_h
        self.energy_delivered_kwh = 0.0  # in the current (or last) session
        self.session_energy_needed_kwh = 0.0
        self.sessions_completed = 0
        self.unmet_energy_kwh = 0.0  # summed shortfall at departures
        self._queue: list[tuple[float, float, float]] = []  # planned (arrival, departure, kWh)
        self._arr = _INF  # arrival of the current or next session
        self._dep = _INF
        self._active = False  # car plugged in
        self._locked = False
        self._last_hour = 99.0
        self._t_end = 0.0  # end of the last step

    def add_session(self, arrival_t: float, departure_t: float, energy_kwh: float) -> None:
        """Queue a session (sim seconds); it starts after any earlier one has left."""
        if self._queue:
            arrival_t = max(arrival_t, self._queue[-1][1])
        if departure_t <= arrival_t or energy_kwh <= 0:
            return
        energy_kwh = min(energy_kwh, DEPARTURE_SOC * self.battery_kwh)  # no more than fits
        self._queue.append((arrival_t, departure_t, energy_kwh))
        if len(self._queue) == 1:
            self._next_session()

    def _next_session(self) -> None:
        if self._queue:
            self._arr, self._dep, _ = self._queue[0]
        else:
            self._arr = self._dep = _INF

    def _plan_day(self, day_start: float) -> None:
        rng = self._rng
        # Draw every number each day so one day's outcome does not shift the next day's.
        present = rng.random() < self.session_probability
        arrive_h = self.arrival_hour + max(-3.0, min(3.0, rng.gauss(0.0, self.arrival_sd_h)))
        leave_h = self.departure_hour + max(-2.0, min(2.0, rng.gauss(0.0, self.departure_sd_h)))
        energy = rng.triangular(self.energy_min_kwh, self.energy_max_kwh, self.mean_energy_kwh)
        if not present:
            return
        if self.departure_hour <= self.arrival_hour:
            leave_h += 24.0  # overnight: leaves the next morning
        leave_h = max(leave_h, arrive_h + 1.0)
        self.add_session(day_start + arrive_h * 3600.0, day_start + leave_h * 3600.0, energy)

    def _step(self, env: StepEnv, dt: float) -> float:
        hour = env.hour
        # A new day is a wrap past midnight; an hour back at a DST change is not.
        if hour < self._last_hour - 12.0:
            self._plan_day(env.t - hour * 3600.0)
        self._last_hour = hour
        t = env.t
        end = t + dt
        self._t_end = end
        if self._arr >= end:  # no car this step: the common case
            return 0.0
        if t >= self._dep:
            self._depart()
            if self._arr >= end:
                return 0.0
        if not self._active:
            self._active = True
            self.energy_delivered_kwh = 0.0
            self.session_energy_needed_kwh = self._queue[0][2]
        remaining = self.session_energy_needed_kwh - self.energy_delivered_kwh
        if remaining <= _DONE_KWH:
            self._locked = False
            return 0.0
        dep = self._dep
        kw = self.charger_kw
        # Must charge now if what is left no longer fits after this step at full rate.
        locked = remaining >= kw * (dep - end) / 3600.0
        self._locked = locked
        rate = kw
        shed = self.shed_request_kw
        if not self.enabled:
            rate = 0.0
        elif shed > 0.0 and not locked:
            rate = kw - shed if shed < kw else 0.0
        start = self._arr if self._arr > t else t
        stop = dep if dep < end else end
        energy = rate * (stop - start) / 3600.0
        if energy > remaining:
            energy = remaining
        self.energy_delivered_kwh += energy
        return energy * 3600.0 / dt

    def _depart(self) -> None:
        if self._active:
            self.sessions_completed += 1
            self.unmet_energy_kwh += max(
                0.0, self.session_energy_needed_kwh - self.energy_delivered_kwh
            )
        self._active = False
        self._locked = False
        self._queue.pop(0)
        self._next_session()

    # -- curtailment ------------------------------------------------------------
    @property
    def plugged_in(self) -> bool:
        return self._active and self._t_end < self._dep

    @property
    def car_soc(self) -> float | None:
        """The plugged-in car's state of charge (0..1), None without a car on the charger."""
        if not self.plugged_in:
            return None
        return DEPARTURE_SOC - self.remaining_kwh / self.battery_kwh

    @property
    def remaining_kwh(self) -> float:
        if not self._active:
            return 0.0
        return max(0.0, self.session_energy_needed_kwh - self.energy_delivered_kwh)

    def shed_capability_kw(self) -> float:
        if self._locked or not self.plugged_in or self.remaining_kwh <= _DONE_KWH:
            return 0.0
        return self.charger_kw

    def floor_kw(self) -> float:
        return self.charger_kw if self._locked else 0.0

    def expected_kw(self) -> float:
        """Full rate from plug-in until the session's energy would be in at full rate: what
        the charger knows (plug-in time, energy asked, its rate), blind to any deferral."""
        if not (self.plugged_in and self.enabled):
            return 0.0
        done_at = self._arr + self.session_energy_needed_kwh / self.charger_kw * 3600.0
        return self.charger_kw if self._t_end < done_at else 0.0

    @property
    def locked_out(self) -> bool:
        return self._locked
