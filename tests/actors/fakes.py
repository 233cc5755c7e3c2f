"""Small fakes for actor tests: a flat circuit, constant weather, a message sink."""

from __future__ import annotations

from typing import Any

from actors.runtime import DispatchedActor, Dispatcher
from sim.models.base import Circuit, StepEnv


class Flat(Circuit):
    """Draws `kw` unless curtailed; can shed all of it (or nothing)."""

    def __init__(self, cid: str, kw: float, *, priority: int, sheddable: bool = True, **kw_args):
        super().__init__(cid, cid.upper(), 30, priority=priority, **kw_args)
        self.kw = kw
        self.sheddable = sheddable

    def _step(self, env: StepEnv, dt: float) -> float:
        return self.kw - min(self.shed_request_kw, self.shed_capability_kw())

    def shed_capability_kw(self) -> float:
        return self.kw if self.sheddable else 0.0


class ConstantWeather:
    def outdoor_c(self, t_s: float, hour_of_day: float) -> float:
        return 30.0

    def irradiance(self, hour_of_day: float) -> float:
        return 0.0

    def mains_c(self) -> float:
        return 15.0

    def window_sun(self, day_of_year: int, hour_of_day: float) -> float:
        return 0.0

    def envelope_sun(self, day_of_year: int, hour_of_day: float) -> float:
        return 0.0


class Sink(DispatchedActor):
    def __init__(self, dispatcher: Dispatcher, seen: list[Any]) -> None:
        super().__init__(dispatcher=dispatcher)
        self.seen = seen  # read by the test only while the dispatcher is idle

    def on_receive(self, message: Any) -> Any:
        self.seen.append(message)
