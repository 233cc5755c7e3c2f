"""CircuitActor: one metered circuit, stepping its physics model on request."""

from __future__ import annotations

from typing import Any

import pykka

from actors.messages import Advance, CircuitReading, Curtail, Restore, SetLoad
from actors.runtime import DispatchedActor, Dispatcher
from sim.models.base import KW_PER_BREAKER_AMP, Circuit
from sim.world import World


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

    def on_receive(self, message: Any) -> Any:
        if isinstance(message, Advance):
            self.controller.tell(self.advance(message.t))
        elif isinstance(message, Curtail):
            self.model.curtail(message.reduce_kw)
        elif isinstance(message, Restore):
            self.model.restore()
        elif isinstance(message, SetLoad):
            self.set_load(message)
        else:
            return super().on_receive(message)
        return None

    def advance(self, t_end: float) -> CircuitReading:
        model, world, step = self.model, self.world, self.physics_step_s
        t0 = t = self.t
        energy_before = model.energy_kwh
        comfort_s = 0.0
        violated = False
        while t < t_end - 1e-9:
            dt = min(step, t_end - t)
            model.step(world.env_at(t), dt)
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
            extra=_live_extras(model),
        )

    def set_load(self, message: SetLoad) -> None:
        if message.enabled is not None:
            self.model.enabled = message.enabled
        if message.priority is not None:
            self.model.priority = message.priority
        if message.capacity_kw is not None:
            # Capacity is the breaker rating expressed in kW.
            self.model.breaker_amps = max(1, round(message.capacity_kw / KW_PER_BREAKER_AMP))


_EXTRAS = ("indoor_c", "soc", "tank_c")


def _live_extras(model: Circuit) -> dict[str, Any] | None:
    """State worth reporting beside power (indoor temperature, state of charge...)."""
    extras = None
    for name in _EXTRAS:
        value = getattr(model, name, None)
        if value is not None:
            if extras is None:
                extras = {}
            extras[name] = value
    return extras
