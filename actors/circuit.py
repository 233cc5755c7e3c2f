"""CircuitActor: one metered circuit, stepping its physics model on request."""

from __future__ import annotations

from typing import Any

import pykka

from actors.messages import (
    Advance,
    AdvanceBatch,
    CircuitBatch,
    CircuitReading,
    Curtail,
    Fork,
    Restore,
    SetLoad,
)
from actors.runtime import DispatchedActor, Dispatcher
from sim.comfort import discomfort, hot_water, thermal, warm_and_felt
from sim.models.base import Circuit, StepPlan, breaker_amps_for
from sim.world import World

# Live state worth reporting beside power: a battery's soc, a plugged-in car's car_soc.
_EXTRAS = ("indoor_c", "soc", "car_soc", "tank_c")
CONVERGE_CHECK_S = 3600.0  # how often a twin is compared with its circuit
_new_tuple = tuple.__new__


class CircuitActor(DispatchedActor):
    """Owns one `Circuit` model; only this actor touches it.

    On `Advance(t, into)` it steps the model in `physics_step_s` steps up to `t` and puts a
    `CircuitReading` for the span into the VEN's round. Without a round it tells the reading
    to `controller` as it is: only a test's probe takes that (`ControllerActor` takes rounds).
    """

    def __init__(
        self,
        model: Circuit,
        world: World,
        controller: pykka.ActorRef[Any],
        *,
        physics_step_s: float = 60.0,
        t0: float = 0.0,
        dispatcher: Dispatcher | None = None,
    ) -> None:
        super().__init__(dispatcher=dispatcher)
        self.model = model
        self.world = world
        self._batch_plans = world.batch_plans  # (t0, times, step) -> their steps, shared
        self.controller = controller
        self.physics_step_s = physics_step_s
        self.t = t0
        # Decided once: most circuits have no extra state (indoor temperature, state of
        # charge) to report, and none has two (so a reading's extra is a one-key dict).
        extras = [name for name in _EXTRAS if hasattr(model, name)]
        if len(extras) > 1:
            raise ValueError(f"{type(model).__name__} reports {extras}: a circuit has one at most")
        self._extra = extras[0] if extras else None
        self._thermal = thermal(model)
        self._hot_water = hot_water(model)
        kind = type(model)
        self._forecasts = kind.expected_kw is not Circuit.expected_kw
        # A model that gives a reading's estimates, lock-out, floor, comfort and extra state in
        # one call (sim.models.base.ReadingEstimates: an HVAC, a water heater) computes nothing
        # twice and costs one call a reading.
        self._estimates = hasattr(kind, "reading_estimates")
        if self._estimates and self._extra is None:
            raise ValueError(f"{kind.__name__} gives reading_estimates but no extra state")
        # Most circuits keep Circuit's constant answers (no floor, never locked out, nothing
        # to shed): known now, they cost no call per reading.
        self._has_capability = kind.shed_capability_kw is not Circuit.shed_capability_kw
        self._has_floor = kind.floor_kw is not Circuit.floor_kw
        self._has_lockout = kind.locked_out is not Circuit.locked_out
        # The twin of the latest event (None before any): stepped beside the model, never
        # curtailed, it is M&V's ground truth. The controller only passes its energy on.
        self.twin: Circuit | None = None
        self._twin_restore_at: float | None = None
        self._twin_check_at = 0.0
        self._fork: Fork | None = None  # forked, but not curtailed since: no copy needed yet

    receives = {
        Advance: "on_advance",
        AdvanceBatch: "on_advance_batch",
        Curtail: "on_curtail",
        Fork: "on_fork",
        Restore: "on_restore",
        SetLoad: "set_load",
    }

    def on_advance(self, message: Advance) -> None:
        # One interval, the fleet's every tick: its reading made at once, without a batch's
        # list, plans and loop around it (the world's step plans, shared by every circuit).
        t0, t_end = self.t, message.t
        plan = self.world.step_plans[(t0, t_end, self.physics_step_s)]
        reading = self._reading(t0, t_end, plan)
        if message.into is None:
            self.controller.tell(reading)
        else:
            message.into.put(self.model.id, reading)

    def on_advance_batch(self, message: AdvanceBatch) -> None:
        readings = tuple(self.readings(message.times))
        if message.into is None:
            self.controller.tell(CircuitBatch(self.model.id, readings))
        else:
            message.into.put(self.model.id, readings)

    def on_curtail(self, message: Curtail) -> None:
        if self._fork is not None and message.reduce_kw > 0:
            self._make_twin(self._fork)  # first held since the fork: it diverges from here
        self.model.curtail(message.reduce_kw)

    def on_restore(self, _message: Restore) -> None:
        self.model.restore()

    def on_fork(self, message: Fork) -> None:
        # A later event's twin replaces an earlier one: without a twin of the controller, a
        # twin cannot follow the other events, so each event's truth ends where the next starts.
        self.twin = None
        self._fork = None
        if self.model.shed_request_kw > 0 or message.restore_at is not None:
            self._make_twin(message)  # held by an earlier event: the twin must follow it
        else:
            # Until first curtailed, the circuit is its own twin (most never are: outlets,
            # fridges, PV), so the copy waits for the first Curtail.
            self._fork = message

    def _make_twin(self, fork: Fork) -> None:
        self._fork = None
        self.twin = self.model.twin()
        self._twin_restore_at = fork.restore_at
        self._twin_check_at = max(self.t + CONVERGE_CHECK_S, fork.end)

    def readings(self, times: tuple[float, ...]) -> list[CircuitReading]:
        """Step to each of `times` in turn; a reading for each."""
        out: list[CircuitReading] = []
        t0 = self.t
        # Every circuit of the fleet steps the same batches: their plans are looked up once.
        plans = self._batch_plans[(t0, times, self.physics_step_s)]
        for t_end, steps in zip(times, plans, strict=True):
            out.append(self._reading(t0, t_end, steps))
            t0 = t_end
        return out

    def _reading(self, t0: float, t_end: float, steps: StepPlan) -> CircuitReading:
        """Step from `t0` to `t_end` by `steps`; the span's reading. This runs for every circuit
        on every interval: what the model's kind decided at start is read, not asked again."""
        model = self.model
        energy, comfort_s, violated = model.run_steps(steps)
        self.t = t_end
        span = t_end - t0
        twin_kwh = twin_comfort = twin_warm = None
        if self.twin is not None:
            twin_kwh, twin_comfort, twin_warm = self._advance_twin(t0, t_end, steps)
        extra = self._extra
        if self._estimates:
            capability, expected, locked, floor, warm, felt, state = (
                model.reading_estimates(span))
            extras: dict[str, Any] | None = {extra: state}  # type: ignore[dict-item]
        else:
            warm = felt = expected = None
            if self._thermal:
                warm, felt = warm_and_felt(model, span)
            if self._forecasts:
                capability, expected = model.shed_outlook()
            elif self._has_capability:
                capability = model.shed_capability_kw()
            else:
                capability = 0.0
            locked = model.locked_out if self._has_lockout else False
            floor = model.floor_kw() if self._has_floor else 0.0
            extras = {extra: getattr(model, extra)} if extra else None
        # Every field in order, straight into the tuple: the NamedTuple's own __new__ costs
        # three times as much.
        return _new_tuple(CircuitReading, (
            model.id,
            t_end,
            energy * 3600.0 / span if span > 0 else model.power_kw,
            energy,
            capability,
            locked,
            violated,
            comfort_s / 60.0,
            model.shed_request_kw,
            floor,
            extras,
            twin_kwh,
            twin_comfort,
            warm,
            twin_warm,
            self._hot_water,
            felt,
            expected,
        ))

    def _advance_twin(
        self, t0: float, t_end: float, steps: StepPlan
    ) -> tuple[float, float, tuple[float, float] | None]:
        """Step the twin alike; (its energy, its comfort minutes, its warm minutes)."""
        twin = self.twin
        assert twin is not None
        restore_at = self._twin_restore_at
        if restore_at is not None and restore_at <= t0 + 1e-9:
            # The controller restores between ticks: from the first tick at or after it.
            twin.restore()
            self._twin_restore_at = None
        twin_kwh, twin_s, _ = twin.run_steps(steps)
        twin_warm = discomfort(twin, t_end - t0) if self._thermal else None
        # Compared only in a step that began after the event's last tick: that tick may
        # still curtail (the controller closes its loop, then ends the event).
        if t0 >= self._twin_check_at - 1e-9 and restore_at is None:
            self._twin_check_at = t_end + CONVERGE_CHECK_S
            if twin.same_state(self.model):  # re-converged: it draws as the circuit from now on
                self.twin = None
        return twin_kwh, twin_s / 60.0, twin_warm

    def set_load(self, message: SetLoad) -> None:
        # The user's switch is no part of the event: the twin follows it too.
        for model in (self.model, self.twin) if self.twin is not None else (self.model,):
            if message.enabled is not None:
                model.enabled = message.enabled
            if message.priority is not None:
                model.priority = message.priority
            if message.capacity_kw is not None:
                # Capacity is the breaker rating expressed in kW.
                model.breaker_amps = breaker_amps_for(message.capacity_kw)
