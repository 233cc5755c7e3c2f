"""Thermostat-controlled HVAC on a one-node RC model of the house."""

from __future__ import annotations

import math
import random

from sim.models.base import Circuit, StepEnv, clamp

_EPS_KW = 0.05  # floor for the draw estimate so a tiny estimate cannot blow up the offset


class Hvac(Circuit):
    """Air conditioner (cooling) or heat pump (heating) with a deadband thermostat.

    Indoor temperature T follows dT/dt = (T_out - T)/(R*C) + (Q + gains)/C, R in degC/kW,
    C in kWh/degC, Q = -/+ COP * electrical kW while the compressor runs. The compressor
    state is held for a whole step, so the exact exponential solution applies and the
    decay factor exp(-dt/RC) is the same on and off (computed once per distinct dt).

    Curtailment moves the setpoint away by up to `comfort_band_c`; the compressor is
    never forced off. If coasting through the next step would leave the comfort band
    the compressor must run (`locked_out`).
    """

    type = "HVAC"
    steps_when_disabled = True
    __slots__ = (
        "setpoint_c", "deadband_c", "comfort_band_c", "r_c_per_kw", "c_kwh_per_c",
        "compressor_kw", "cop", "mode", "min_on_s", "min_off_s", "solar_gain_kw",
        "internal_gain_kw", "indoor_c", "compressor_on", "offset_c",
        "_sign", "_swing", "_tau_s", "_dt", "_k", "_held_s", "_locked", "_t_free",
        "_req_seen",
    )

    def __init__(
        self,
        circuit_id: str,
        name: str,
        breaker_amps: int,
        *,
        critical: bool = True,
        priority: int = 3,
        rng: random.Random | None = None,  # accepted for a uniform signature; HVAC is deterministic
        setpoint_c: float = 24.0,
        deadband_c: float = 0.5,
        comfort_band_c: float = 2.0,
        r_c_per_kw: float = 2.0,
        c_kwh_per_c: float = 2.0,
        compressor_kw: float = 3.5,
        cop: float = 3.0,
        initial_indoor_c: float | None = None,
        mode: str = "cool",
        min_on_s: float = 300.0,
        min_off_s: float = 300.0,
        solar_gain_kw: float = 1.0,
        internal_gain_kw: float = 0.5,
        compressor_on: bool = False,
    ) -> None:
        super().__init__(circuit_id, name, breaker_amps, critical=critical, priority=priority)
        if mode not in ("cool", "heat"):
            raise ValueError(f"HVAC mode must be 'cool' or 'heat', not {mode!r}")
        if r_c_per_kw <= 0 or c_kwh_per_c <= 0 or compressor_kw <= 0 or cop <= 0:
            raise ValueError("HVAC R, C, compressor_kw and cop must be positive")
        self.setpoint_c = setpoint_c
        self.deadband_c = deadband_c
        self.comfort_band_c = max(0.0, comfort_band_c)
        self.r_c_per_kw = r_c_per_kw
        self.c_kwh_per_c = c_kwh_per_c
        self.compressor_kw = compressor_kw
        self.cop = cop
        self.mode = mode
        self.min_on_s = min_on_s
        self.min_off_s = min_off_s
        self.solar_gain_kw = solar_gain_kw
        self.internal_gain_kw = internal_gain_kw
        self.indoor_c = setpoint_c if initial_indoor_c is None else initial_indoor_c
        self.compressor_on = compressor_on
        self.offset_c = 0.0  # current setpoint offset from curtailment (always >= 0)
        # sign = +1 when "too warm" is the demand (cooling), -1 for heating.
        self._sign = 1.0 if mode == "cool" else -1.0
        self._swing = r_c_per_kw * cop * compressor_kw  # equilibrium shift with compressor on
        self._tau_s = r_c_per_kw * c_kwh_per_c * 3600.0
        self._dt = -1.0
        self._k = 0.0
        self._held_s = max(min_on_s, min_off_s)  # min-time guards satisfied at start
        self._locked = False
        self._t_free = setpoint_c  # last free-running equilibrium (no outdoor seen yet)
        self._req_seen = 0.0

    # -- physics ----------------------------------------------------------------
    def _step(self, env: StepEnv, dt: float) -> float:
        if dt != self._dt:
            self._dt = dt
            self._k = math.exp(-dt / self._tau_s)
        if self.shed_request_kw != self._req_seen:  # request set without curtail()
            self._apply_request()
        sign = self._sign
        k = self._k
        t_in = self.indoor_c
        # Equilibrium with the compressor off: outdoor plus what the gains add through R.
        t_free = env.outdoor_c + self.r_c_per_kw * (
            self.solar_gain_kw * env.irradiance + self.internal_gain_kw
        )
        self._t_free = t_free
        # Comfort floor: must run if coasting this step would end beyond the band.
        locked = sign * (t_free + (t_in - t_free) * k - self.setpoint_c) > self.comfort_band_c
        self._locked = locked
        err = sign * (t_in - self.setpoint_c) - self.offset_c  # > 0: demand for the compressor
        run = self.compressor_on
        held = self._held_s
        if not self.enabled:  # switched off by the user: the house just drifts
            if run:
                run = False
                held = 0.0
        elif run:
            if err <= -self.deadband_c and held >= self.min_on_s and not locked:
                run = False
                held = 0.0
        elif (err >= self.deadband_c or locked) and held >= self.min_off_s:
            run = True
            held = 0.0
        self.compressor_on = run
        self._held_s = held + dt
        if run:
            t_eq = t_free - sign * self._swing
            self.indoor_c = t_eq + (t_in - t_eq) * k
            return self.compressor_kw
        self.indoor_c = t_free + (t_in - t_free) * k
        return 0.0

    # -- curtailment ------------------------------------------------------------
    def natural_kw(self) -> float:
        """Steady-state mean draw at the plain setpoint: the load through R over COP."""
        load = self._sign * (self._t_free - self.setpoint_c) / (self.r_c_per_kw * self.cop)
        return clamp(load, 0.0, self.compressor_kw)

    def _apply_request(self) -> None:
        req = self.shed_request_kw
        self._req_seen = req
        # Based on the uncurtailed estimate, so repeated requests do not ratchet the offset.
        share = min(1.0, req / max(self.natural_kw(), _EPS_KW)) if req > 0.0 else 0.0
        self.offset_c = self.comfort_band_c * share

    def curtail(self, reduce_kw: float) -> None:
        super().curtail(reduce_kw)
        self._apply_request()

    def restore(self) -> None:
        super().restore()
        self._apply_request()

    def shed_capability_kw(self) -> float:
        if self._locked:
            return 0.0
        # Scale by how much of the comfort band is still unused above the deadband.
        excess = self._sign * (self.indoor_c - self.setpoint_c)
        room = (self.comfort_band_c - excess) / max(self.comfort_band_c - self.deadband_c, 0.1)
        return self.natural_kw() * clamp(room, 0.0, 1.0)

    def floor_kw(self) -> float:
        return self.compressor_kw if self._locked else 0.0

    @property
    def locked_out(self) -> bool:
        return self._locked

    def comfort_violated(self) -> bool:
        return abs(self.indoor_c - self.setpoint_c) > self.comfort_band_c + self.deadband_c
