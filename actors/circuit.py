"""CircuitActor: one metered circuit, stepping its physics model on request."""

from __future__ import annotations

from typing import Any

import pykka

from actors.messages import Advance, CircuitReading, Curtail, Restore, SetLoad
from actors.runtime import DispatchedActor, Dispatcher
from sim.models.base import Circuit, breaker_amps_for
from sim.world import World

_EXTRAS = ("indoor_c", "soc", "tank_c")  # live state worth reporting beside power


class CircuitActor(DispatchedActor):
    """Owns one `Circuit` model; only this actor touches it.

    On `Advance(t)` it steps the model in `physics_step_s` steps up to `t` and
    tells its controller a `CircuitReading` for the span.
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
        self.controller = controller
        self.physics_step_s = physics_step_s
        self.t = t0
        # Decided once, not per step: most circuits have no comfort to violate
        # and no extra state (indoor temperature, state of charge) to report.
        self._tracks_comfort = type(model).comfort_violated is not Circuit.comfort_violated
        self._extras = tuple(name for name in _EXTRAS if hasattr(model, name))

    receives = {
        Advance: "on_advance",
        Curtail: "on_curtail",
        Restore: "on_restore",
        SetLoad: "set_load",
    }

    def on_advance(self, message: Advance) -> None:
        self.controller.tell(self.advance(message.t))

    def on_curtail(self, message: Curtail) -> None:
        self.model.curtail(message.reduce_kw)

    def on_restore(self, _message: Restore) -> None:
        self.model.restore()

    def advance(self, t_end: float) -> CircuitReading:
        model, world, step = self.model, self.world, self.physics_step_s
        t0 = t = self.t
        energy_before = model.energy_kwh
        comfort_s = 0.0
        violated = False
        env_at, model_step = world.env_at, model.step
        tracks_comfort = self._tracks_comfort
        while t < t_end - 1e-9:
            dt = step if t + step <= t_end else t_end - t
            model_step(env_at(t), dt)
            if tracks_comfort:
                violated = model.comfort_violated()
                if violated:
                    comfort_s += dt
            t += dt
        self.t = t_end
        span = t_end - t0
        energy = model.energy_kwh - energy_before
        return CircuitReading(
            circuit_id=model.id,
            t=t_end,
            power_kw=energy * 3600.0 / span if span > 0 else model.power_kw,
            energy_kwh=energy,
            shed_capability_kw=model.shed_capability_kw(),
            locked_out=model.locked_out,
            comfort_violated=violated,
            comfort_minutes=comfort_s / 60.0,
            shed_request_kw=model.shed_request_kw,
            floor_kw=model.floor_kw(),
            extra={name: getattr(model, name) for name in self._extras} if self._extras else None,
        )

    def set_load(self, message: SetLoad) -> None:
        if message.enabled is not None:
            self.model.enabled = message.enabled
        if message.priority is not None:
            self.model.priority = message.priority
        if message.capacity_kw is not None:
            # Capacity is the breaker rating expressed in kW.
            self.model.breaker_amps = breaker_amps_for(message.capacity_kw)
