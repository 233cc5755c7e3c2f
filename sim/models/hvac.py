"""Thermostat-controlled HVAC (cooling, heating or both) on a two-node house envelope."""

from __future__ import annotations

import math
import random

from sim.comfort import warm_and_felt_past
from sim.models.base import (
    Circuit,
    ComfortLimits,
    ReadingEstimates,
    StepEnv,
    StepPlan,
    clamp,
)
from sim.models.envelope import Envelope
from sim.models.heating import HeatPump, HeatSource
from sim.models.profile import OUTLET_SHAPE

_EPS_KW = 0.05  # floor for the draw estimate so a tiny estimate cannot blow up the offset
MODES = ("auto", "cool", "heat")
_SOLAR_TO_MASS = 0.6  # share of the sun through windows landing on floors and walls
_SOLAR_TO_AIR = 1 - _SOLAR_TO_MASS
# Outside film coefficient of a wall or roof in a light wind (ASHRAE Fundamentals: 17 W/m2K in
# the sol-air temperature), kW/m2K.
H_OUT_KW_PER_M2_C = 0.017
# Internal gains (people, appliances' heat) follow the occupants: the plug-load shape scaled
# to a daily mean of 1, so gains are low at night and highest in the evening.
OCCUPANCY = tuple(x * 24 / sum(OUTLET_SHAPE) for x in OUTLET_SHAPE)


class Hvac(Circuit):
    """Air conditioner and/or heater with a deadband thermostat.

    The house is an `Envelope` (air and mass). While running, cooling removes
    `cop * compressor_kw` from the air; heating adds what the `heat_source` gives at
    the current outdoor temperature. The equipment state is held for a whole step, so
    the envelope's exact solution applies.

    `mode` is cool, heat or auto; auto regulates against the heating setpoint while the
    air is nearer to it than to the cooling setpoint, and switches only while idle.
    Curtailment moves the active setpoint away by up to `comfort_band_c`; the unit is
    never forced off. If coasting through the next step would leave the comfort band the
    unit must run (`locked_out`).
    """

    type = "HVAC"
    steps_when_disabled = True
    __slots__ = (
        "cooling_setpoint_c", "heating_setpoint_c", "deadband_c", "comfort_band_c",
        "compressor_kw", "cop", "mode", "heat_source", "min_on_s", "min_off_s",
        "window_gain_m2", "internal_gain_kw", "envelope", "compressor_on", "offset_c",
        "_sign", "_held_s", "_locked", "_eq_off", "_outdoor", "_req_seen", "_start_offset",
        "precool_c", "precool_from_hour", "precool_to_hour", "_precool", "absorptance",
        "_sun_to_mass",
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
        heating_setpoint_c: float | None = None,
        cooling_setpoint_c: float | None = None,
        deadband_c: float = 0.5,
        comfort_band_c: float = 2.0,
        r_c_per_kw: float = 3.0,
        c_kwh_per_c: float = 8.0,
        air_share: float = 0.2,
        mass_coupling_kw_per_c: float = 5.0,
        wall_share: float = 0.5,
        compressor_kw: float = 3.5,
        cop: float = 3.0,
        heat_source: HeatSource | None = None,
        initial_indoor_c: float | None = None,
        initial_offset_c: float = 0.0,
        mode: str = "cool",
        min_on_s: float = 300.0,
        min_off_s: float = 300.0,
        precool_c: float = 0.0,
        precool_from_hour: float = 13.0,
        precool_to_hour: float = 15.0,
        window_gain_m2: float = 2.0,
        internal_gain_kw: float = 0.5,
        absorptance: float = 0.0,
        compressor_on: bool = False,
    ) -> None:
        super().__init__(circuit_id, name, breaker_amps, critical=critical, priority=priority)
        if mode not in MODES:
            raise ValueError(f"HVAC mode must be one of {', '.join(MODES)}, not {mode!r}")
        if compressor_kw <= 0 or cop <= 0:
            raise ValueError("HVAC compressor_kw and cop must be positive")
        # `setpoint_c` is the one setpoint of a single-mode unit.
        cool = setpoint_c if cooling_setpoint_c is None else cooling_setpoint_c
        heat = setpoint_c if heating_setpoint_c is None else heating_setpoint_c
        if mode == "auto" and heat > cool - 2.0 * deadband_c:
            raise ValueError(f"heating setpoint {heat:g} C must be at least two deadbands "
                             f"below the cooling setpoint {cool:g} C")
        self.cooling_setpoint_c = cool
        self.heating_setpoint_c = heat
        self.deadband_c = deadband_c
        self.comfort_band_c = max(0.0, comfort_band_c)
        self.compressor_kw = compressor_kw
        self.cop = cop
        self.mode = mode
        self.heat_source = heat_source or HeatPump(compressor_kw, backup_kw=0.0)
        self.min_on_s = min_on_s
        self.min_off_s = min_off_s
        # Pre-cooling: the cooling setpoint is lowered by precool_c over a daily window ahead
        # of the program's event hours, so the house's mass is cold when an event begins.
        self.precool_c = max(0.0, precool_c)
        self.precool_from_hour = precool_from_hour
        self.precool_to_hour = precool_to_hour
        self._precool = 0.0  # the pre-cool offset in force this step
        self.window_gain_m2 = window_gain_m2
        self.internal_gain_kw = internal_gain_kw
        start = (heat if mode == "heat" else cool) if initial_indoor_c is None else initial_indoor_c
        self.envelope = Envelope(r_c_per_kw, c_kwh_per_c, air_share=air_share,
                                 h_kw_per_c=mass_coupling_kw_per_c, wall_share=wall_share,
                                 air_c=start)
        # Sun on the roof and walls (absorptance 0: none) raises their outside surface to
        # the sol-air temperature, outdoor + absorptance x sun / h_out: for the mass node,
        # whose outside path (g_mass) runs through them, a heat gain of kW per kW/m2 of sun.
        if not 0.0 <= absorptance <= 1.0:
            raise ValueError("envelope absorptance must be within 0..1")
        self.absorptance = absorptance
        self._sun_to_mass = self.envelope.g_mass * absorptance / H_OUT_KW_PER_M2_C
        self.compressor_on = compressor_on
        self.offset_c = 0.0  # current setpoint offset from curtailment (always >= 0)
        # sign = +1 when "too warm" is the demand (cooling), -1 for heating.
        self._sign = -1.0 if mode == "heat" else 1.0
        self._held_s = max(min_on_s, min_off_s)  # min-time guards satisfied at start
        self._locked = False
        self._eq_off = (start, start)  # last free-running equilibrium (no outdoor seen yet)
        self._outdoor = start
        self._req_seen = 0.0
        # Without an initial temperature the house starts where its thermostat holds it
        # in the first step's weather (plus this offset), which is only known then.
        self._start_offset = None if initial_indoor_c is not None else initial_offset_c

    @property
    def indoor_c(self) -> float:
        return self.envelope.air_c

    @indoor_c.setter
    def indoor_c(self, value: float) -> None:
        self.envelope.air_c = value

    @property
    def setpoint_c(self) -> float:
        """The setpoint the thermostat regulates against right now."""
        if self._sign > 0:
            return self.cooling_setpoint_c - self._precool
        return self.heating_setpoint_c

    def _run_output(self, sign: float, outdoor_c: float) -> tuple[float, float]:
        """(heat into the air kW, electric kW) while the unit runs in direction `sign`."""
        if sign > 0:
            return -self.cop * self.compressor_kw, self.compressor_kw
        return self.heat_source.output(outdoor_c)

    # -- physics ----------------------------------------------------------------
    def _step(self, env: StepEnv, dt: float) -> float:
        return self._walk(((env, dt),), -math.inf, math.inf)[1]

    def run_steps(self, steps: StepPlan) -> tuple[float, float, bool]:
        # The simulation's hottest physics, a span in one loop: no call per step, and the
        # house's constants read once (the same operations as Circuit.run_steps' per step).
        _, _, low, high = self.comfort_limits()
        energy_kws, power, comfort_s, violated = self._walk(steps, low, high)
        self.power_kw = power
        energy = energy_kws / 3600.0
        self.energy_kwh += energy
        return energy, comfort_s, violated

    def _walk(self, steps: StepPlan, low: float, high: float) -> tuple[float, float, float, bool]:
        """Take the steps; (energy kW-seconds, the last step's power, seconds with the air
        outside low..high, outside it at the end). The envelope's equilibrium, coast and
        advance are inlined with the same floating-point operations as Envelope's methods."""
        if not steps:
            return 0.0, 0.0, 0.0, False
        if self.shed_request_kw != self._req_seen:  # request set without curtail()
            self._apply_request()
        env_ = self.envelope
        h, det, gmh, gah = env_.h_kw_per_c, env_._det, env_._gmh, env_._gah
        g_air, g_mass = env_.g_air, env_.g_mass
        run, held, sign, precool = self.compressor_on, self._held_s, self._sign, self._precool
        air, mass = env_.air_c, env_.mass_c
        auto = self.mode == "auto"
        heating_c, cooling_c, precool_c = (
            self.heating_setpoint_c, self.cooling_setpoint_c, self.precool_c)
        window_gain, internal_gain, sun_to_mass = (
            self.window_gain_m2, self.internal_gain_kw, self._sun_to_mass)
        band, deadband, offset = self.comfort_band_c, self.deadband_c, self.offset_c
        enabled, min_on, min_off = self.enabled, self.min_on_s, self.min_off_s
        energy_kws = comfort_s = 0.0
        violated = False
        for env, dt in steps:
            if auto and not run:
                mid = (heating_c + cooling_c) / 2.0
                sign = 1.0 if air >= mid else -1.0
            outdoor = env.outdoor_c
            hour = env.hour
            solar = window_gain * env.window_sun
            q_air = internal_gain * OCCUPANCY[int(hour)] + solar * _SOLAR_TO_AIR
            q_mass = solar * _SOLAR_TO_MASS + sun_to_mass * env.envelope_sun
            ga_out = g_air * outdoor
            to_air = ga_out + q_air
            to_mass = g_mass * outdoor + q_mass
            e_air = (gmh * to_air + h * to_mass) / det
            e_mass = (h * to_air + gah * to_mass) / det
            if self._start_offset is not None:  # the first step: the house starts settled
                self._sign = sign
                self._settle(e_air)
                air, mass, sign = env_.air_c, env_.mass_c, self._sign
            free = (e_air, e_mass)
            if precool_c:
                window = self.precool_from_hour <= hour < self.precool_to_hour
                precool = precool_c if window else 0.0
            setpoint = cooling_c - precool if sign > 0 else heating_c
            p00, p01, p10, p11 = env_._phi if dt == env_._dt else env_._matrix(dt)
            d_air = air - e_air
            d_mass = mass - e_mass
            coast_air = e_air + p00 * d_air + p01 * d_mass  # air after coasting this step
            # Comfort floor: must run if coasting this step would end beyond the band.
            locked = sign * (coast_air - setpoint) > band
            err = sign * (air - setpoint) - offset  # > 0: demand for the unit
            if not enabled:  # switched off by the user: the house just drifts
                if run:
                    run = False
                    held = 0.0
            elif run:
                if err <= -deadband and held >= min_on and not locked:
                    run = False
                    held = 0.0
            elif (err >= deadband or locked) and held >= min_off:
                run = True
                held = 0.0
            held = held + dt
            if run:
                if sign > 0:
                    heat, power = -self.cop * self.compressor_kw, self.compressor_kw
                else:
                    heat, power = self.heat_source.output(outdoor)
                to_air = ga_out + (q_air + heat)
                e_air = (gmh * to_air + h * to_mass) / det
                e_mass = (h * to_air + gah * to_mass) / det
                d_air = air - e_air
                d_mass = mass - e_mass
                air = e_air + p00 * d_air + p01 * d_mass
            else:
                power = 0.0
                air = coast_air
            mass = e_mass + p10 * d_air + p11 * d_mass
            energy_kws += power * dt
            violated = not low <= air <= high
            if violated:
                comfort_s += dt
        env_.air_c, env_.mass_c = air, mass
        self.compressor_on, self._held_s, self._sign, self._precool = run, held, sign, precool
        self._locked, self._eq_off, self._outdoor = locked, free, outdoor
        return energy_kws, power, comfort_s, violated

    def _settle(self, free_c: float) -> None:
        offset = self._start_offset or 0.0
        self._start_offset = None
        low = self.cooling_setpoint_c if self.mode == "cool" else self.heating_setpoint_c
        high = self.heating_setpoint_c if self.mode == "heat" else self.cooling_setpoint_c
        start = clamp(free_c, low, high) + offset
        self.envelope.air_c = self.envelope.mass_c = start
        if self.mode == "auto":
            mid = (self.heating_setpoint_c + self.cooling_setpoint_c) / 2.0
            self._sign = 1.0 if start >= mid else -1.0

    # -- curtailment ------------------------------------------------------------
    def natural_kw(self) -> float:
        """Steady-state mean draw at the plain setpoint: the load through R per heat kW/kWe."""
        return self._natural_kw(self._sign, self.setpoint_c)

    def _natural_kw(self, sign: float, setpoint: float) -> float:
        if sign > 0:  # cooling: _run_output's, without the call
            heat, electric = -self.cop * self.compressor_kw, self.compressor_kw
        else:
            heat, electric = self.heat_source.output(self._outdoor)
        load = sign * (self._eq_off[0] - setpoint) / self.envelope.r_c_per_kw
        # clamp(load * electric / max(abs(heat), 1e-9), 0.0, electric) without the calls: every
        # reading estimates this (the same comparisons as max() and clamp() make).
        magnitude = abs(heat)
        kw = load * electric / (1e-9 if magnitude < 1e-9 else magnitude)
        return 0.0 if kw < 0.0 else electric if kw > electric else kw

    def expected_kw(self) -> float:
        return self.natural_kw()  # what a smart thermostat's house model predicts

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
        return self.shed_outlook()[0]

    def shed_outlook(self) -> tuple[float, float]:
        # Both from one natural_kw(): it is the HVAC's costliest estimate.
        sign, setpoint = self._sign, self.setpoint_c
        natural = self._natural_kw(sign, setpoint)
        return self._capability_kw(natural, sign * (self.envelope.air_c - setpoint)), natural

    def reading_estimates(self, span_s: float) -> ReadingEstimates:
        # From one read of the setpoint and the indoor air: the same operations as
        # shed_outlook(), locked_out, floor_kw(), sim.comfort.warm_and_felt and indoor_c.
        sign, locked = self._sign, self._locked
        setpoint = self.cooling_setpoint_c - self._precool if sign > 0 else self.heating_setpoint_c
        indoor = self.envelope.air_c
        above = indoor - setpoint
        natural = self._natural_kw(sign, setpoint)
        floor = self._run_output(sign, self._outdoor)[1] if locked else 0.0
        # Comfort counts past the setpoint of the unit's mode (auto counts warmth).
        warm, felt = warm_and_felt_past((-1.0 if self.mode == "heat" else 1.0) * above, span_s)
        capability = self._capability_kw(natural, sign * above)
        return capability, natural, locked, floor, warm, felt, indoor

    def _capability_kw(self, natural_kw: float, excess_c: float) -> float:
        """`natural_kw` scaled by how much of the comfort band is still unused above the
        deadband; `excess_c` is how far the air is past the setpoint in the demand's direction."""
        if self._locked:
            return 0.0
        band = self.comfort_band_c
        usable = band - self.deadband_c
        # max() and clamp() as comparisons (the same results): every reading estimates this.
        room = (band - excess_c) / (0.1 if usable < 0.1 else usable)
        return natural_kw * (0.0 if room < 0.0 else 1.0 if room > 1.0 else room)

    def floor_kw(self) -> float:
        return self._run_output(self._sign, self._outdoor)[1] if self._locked else 0.0

    @property
    def locked_out(self) -> bool:
        return self._locked

    def comfort_limits(self) -> ComfortLimits:
        # The indoor air, within the comfort band plus the deadband of the setpoint(s).
        margin = self.comfort_band_c + self.deadband_c
        mode = self.mode
        low = self.cooling_setpoint_c if mode == "cool" else self.heating_setpoint_c
        high = self.heating_setpoint_c if mode == "heat" else self.cooling_setpoint_c
        return self.envelope, "air_c", low - margin, high + margin
