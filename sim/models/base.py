"""The contract every circuit model follows.

A model is plain Python (no actors, no I/O) so the same code is stepped by a
circuit actor in a simulation and by the plain loop in `ven-sim bench sim`.
Power is in kW, positive = consumption, negative = generation (PV, battery
discharge). Time is in seconds.
"""

from __future__ import annotations

import functools
import io
import pickle
import random
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass

PANEL_VOLTAGE = 240
KW_PER_BREAKER_AMP = 0.24  # 240 V x 1 A = 0.24 kW: the origin's rating rule


@dataclass(frozen=True, slots=True)
class StepEnv:
    """What the world looks like during one physics step."""

    t: float  # simulated seconds since scenario start
    epoch: float  # unix seconds (UTC) of t
    hour: float  # local time of day in hours, 0 <= hour < 24
    outdoor_c: float  # outdoor dry-bulb temperature
    irradiance: float  # solar irradiance as a fraction of clear-sky peak, 0..1
    mains_c: float = 15.0  # cold-water mains temperature (seasonal, from the weather)
    window_sun: float = 0.0  # kW/m2 of sun on a house's windows (the walls' mean, sim.sun)
    # kW/m2 of sun on the opaque envelope (roof and walls) as it reaches the inside, after
    # the conduction lag (sim.sun); it raises their sol-air temperature above outdoor_c.
    envelope_sun: float = 0.0


class Circuit(ABC):
    """One metered branch circuit of a panel.

    `priority` orders shedding: the controller sheds the highest number first;
    1 is the most important load. A critical circuit is never driven below
    `floor_kw()`.
    """

    type: str = "Generic"
    # Stateful physics (a house warming, a tank cooling, a car coming and going)
    # goes on while the user has the circuit switched off; it just draws nothing.
    steps_when_disabled: bool = False

    def __init__(
        self,
        circuit_id: str,
        name: str,
        breaker_amps: int,
        *,
        critical: bool = False,
        priority: int = 5,
    ) -> None:
        self.id = circuit_id
        self.name = name
        self.breaker_amps = breaker_amps
        self.critical = critical
        self.priority = priority
        self.enabled = True  # a user switch: disabled circuits draw nothing
        self.power_kw = 0.0  # mean power over the last step
        self.energy_kwh = 0.0  # cumulative energy drawn (negative for generation)
        self.shed_request_kw = 0.0  # what the controller currently asks this circuit to shed

    @property
    def rated_kw(self) -> float:
        return self.breaker_amps * KW_PER_BREAKER_AMP

    def step(self, env: StepEnv, dt: float) -> float:
        """Advance `dt` seconds; return and remember the mean power over the step."""
        power = self._step(env, dt) if self.enabled or self.steps_when_disabled else 0.0
        self.power_kw = power
        self.energy_kwh += power * dt / 3600.0
        return power

    def run(
        self, env_at: Callable[[float], StepEnv], t: float, t_end: float, step: float
    ) -> tuple[float, float, bool]:
        """Step from `t` to `t_end` in steps of at most `step` seconds; see `run_steps`."""
        return self.run_steps(step_plan(env_at, t, t_end, step))

    def run_steps(self, steps: StepPlan) -> tuple[float, float, bool]:
        """Take the (env, dt) steps of a `step_plan`.

        Returns (energy kWh, seconds out of comfort, out of comfort at the end). The same
        physics as calling `step()` for each, minus a call and an update per step: this is
        the simulation's innermost loop. Every circuit of a fleet walks the same plan, so a
        `World` builds each once (`World.step_plans`).
        """
        physics = self._step if self.enabled or self.steps_when_disabled else None
        # tracks_comfort, inlined: this runs once per circuit per report interval. The band
        # is read once per run and the reading compared inline: a call per step costs more.
        limits = self.comfort_limits() if type(self).comfort_limits is not _NO_LIMITS else None
        energy_kws = comfort_s = power = 0.0
        violated = False
        # Three loops rather than per-step tests of what cannot change within the run.
        if physics is None:  # switched off: draws nothing, the energy stays 0.0
            if limits is not None:
                holder, name, low, high = limits
                for _env, dt in steps:
                    violated = not low <= getattr(holder, name) <= high
                    if violated:
                        comfort_s += dt
        elif limits is None:
            for env, dt in steps:
                power = physics(env, dt)
                energy_kws += power * dt
        else:
            holder, name, low, high = limits
            for env, dt in steps:
                power = physics(env, dt)
                energy_kws += power * dt
                violated = not low <= getattr(holder, name) <= high
                if violated:
                    comfort_s += dt
        self.power_kw = power
        energy = energy_kws / 3600.0
        self.energy_kwh += energy
        return energy, comfort_s, violated

    @property
    def tracks_comfort(self) -> bool:
        return type(self).comfort_limits is not _NO_LIMITS

    @abstractmethod
    def _step(self, env: StepEnv, dt: float) -> float:
        """Physics for one step while enabled; honour `self.shed_request_kw`."""

    def shed_capability_kw(self) -> float:
        """How many kW this circuit could shed right now (0 when locked out)."""
        return 0.0

    def floor_kw(self) -> float:
        """The least this circuit may draw while curtailed."""
        return 0.0

    @property
    def locked_out(self) -> bool:
        """True while the circuit must not be (further) curtailed."""
        return False

    def expected_kw(self) -> float | None:
        """What the device itself expects to draw now if left alone, when it can tell (a
        thermostat, an EV charger); None when it cannot. The VEN's shed estimate uses it."""
        return None

    def shed_outlook(self) -> tuple[float, float | None]:
        """`shed_capability_kw()` and `expected_kw()` at once, as every reading reports them; a
        model that derives both from one estimate overrides this to compute it once."""
        return self.shed_capability_kw(), self.expected_kw()

    def curtail(self, reduce_kw: float) -> None:
        """Ask the circuit to draw `reduce_kw` less than it naturally would."""
        self.shed_request_kw = max(0.0, reduce_kw)

    def restore(self) -> None:
        self.shed_request_kw = 0.0

    def twin(self) -> Circuit:
        """An independent copy, random stream included: stepped alike, it draws alike."""
        # pickle, not copy.deepcopy: the same deep copy at under half the cost. A random
        # stream is copied by its state aside (_TwinPickler), not pickled as 625 numbers.
        buffer = io.BytesIO()
        pickler = _TwinPickler(buffer)
        pickler.dump(self)
        buffer.seek(0)
        return _TwinUnpickler(buffer, pickler.streams).load()

    def same_state(self, other: Circuit) -> bool:
        """True if both would draw the same from now on: every field but the meter's equal."""
        if type(other) is not type(self) or vars(self).keys() != vars(other).keys():
            return False
        # Equal only if every field is, so the cheapest comparisons go first: plain values (a
        # number, a flag, a tuple) at one `==` each, then parts (an envelope, a heat source)
        # field by field, and random streams (625 numbers each side) last. A twin that still
        # differs is mostly told so by a plain value (an HVAC's by its air, in its envelope).
        parts: list[tuple[object, object]] = []
        streams: list[tuple[object, object]] = []
        for name in _fields(type(self), tuple(vars(self))):
            mine, theirs = getattr(self, name, None), getattr(other, name, None)
            if type(mine) in _PLAIN:
                if type(theirs) is not type(mine) or mine != theirs:
                    return False
            else:
                (streams if isinstance(mine, random.Random) else parts).append((mine, theirs))
        return all(_same(mine, theirs) for mine, theirs in (*parts, *streams))

    def comfort_limits(self) -> ComfortLimits | None:
        """Where this circuit's comfort is read and the band it must stay in: (the object
        holding the reading, the reading's attribute, low, high); None when it keeps none.
        Within a run the band is fixed (a run is one message): only the reading moves."""
        return None

    def comfort_violated(self) -> bool:
        """True while an occupant would notice (e.g. indoor temperature out of band)."""
        limits = self.comfort_limits()
        if limits is None:
            return False
        holder, name, low, high = limits
        return not low <= getattr(holder, name) <= high


_NO_LIMITS = Circuit.comfort_limits


_METERED = frozenset(("power_kw", "energy_kwh"))  # what was drawn, not what will be


@functools.cache
def _fields(cls: type, attrs: tuple[str, ...]) -> tuple[str, ...]:
    """A circuit's fields but the meter's, its own slots first (they change most). Cached:
    a class with the same attributes has the same fields, and twins are compared hourly."""
    slots = [n for k in cls.__mro__ for n in getattr(k, "__slots__", ())]
    return tuple(n for n in (*slots, *sorted(attrs)) if n not in _METERED)


def _same(mine: object, theirs: object) -> bool:
    """Equal values; random streams by their state; parts (an envelope, a heat source) by
    their fields, since a plain object compares by identity."""
    if type(mine) is not type(theirs):
        return False
    if isinstance(mine, random.Random):
        return mine.getstate() == theirs.getstate()  # type: ignore[union-attr]
    if type(mine).__eq__ is object.__eq__ and not isinstance(mine, type):
        mine_parts, their_parts = _parts(mine), _parts(theirs)
        return mine_parts.keys() == their_parts.keys() and all(
            _same(value, their_parts[key]) for key, value in mine_parts.items()
        )
    return mine == theirs


# Types whose values `_same` compares with `==` alone: checked inline by `same_state`.
_PLAIN = frozenset((float, int, bool, str, tuple, type(None)))


class _TwinPickler(pickle.Pickler):
    """Pickles a circuit with each random stream set aside as a copy made from its state
    (Random's own pickling writes and reads back its 625 numbers, and seeds a fresh stream
    from os.urandom first); `_TwinUnpickler` puts the copies back in their places."""

    def __init__(self, file: io.BytesIO) -> None:
        super().__init__(file, pickle.HIGHEST_PROTOCOL)
        self.streams: list[random.Random] = []
        self._index: dict[int, int] = {}  # id() of a stream -> its copy: shared stays shared

    def persistent_id(self, obj: object) -> int | None:
        if type(obj) is not random.Random:
            return None
        index = self._index.get(id(obj))
        if index is None:
            copy = random.Random.__new__(random.Random)
            copy.setstate(obj.getstate())
            index = self._index[id(obj)] = len(self.streams)
            self.streams.append(copy)
        return index


class _TwinUnpickler(pickle.Unpickler):
    def __init__(self, file: io.BytesIO, streams: list[random.Random]) -> None:
        super().__init__(file)
        self._streams = streams

    def persistent_load(self, pid: object) -> random.Random:
        return self._streams[pid]  # type: ignore[index]


def _parts(obj: object) -> dict[str, object]:
    slots = [n for k in type(obj).__mro__ for n in getattr(k, "__slots__", ())]
    state = {n: getattr(obj, n) for n in slots if hasattr(obj, n)}
    state.update(getattr(obj, "__dict__", {}))
    return state


ComfortLimits = tuple[object, str, float, float]  # (holder, attribute, low, high)
StepPlan = tuple[tuple[StepEnv, float], ...]  # (env, dt) per physics step of a span
# What a model with a `reading_estimates(span_s)` method (HVAC, water heater) gives each reading
# in one call rather than one per field: (shed capability kW, expected kW or None, locked out,
# floor kW, warm (minutes, degree-minutes) or None, felt degree-minutes or None, its one extra
# state's value: indoor air or tank C). CircuitActor.readings reads them.
ReadingEstimates = tuple[
    float, float | None, bool, float, tuple[float, float] | None, float | None, float
]


def step_plan(
    env_at: Callable[[float], StepEnv], t: float, t_end: float, step: float
) -> StepPlan:
    """The physics steps from `t` to `t_end`: full steps of `step` seconds while one fits,
    then the shorter rest, if any; each with the world at its start."""
    steps = []
    while t + step <= t_end:
        steps.append((env_at(t), step))
        t += step
    if t < t_end - 1e-9:
        steps.append((env_at(t), t_end - t))
    return tuple(steps)


def breaker_amps_for(capacity_kw: float) -> int:
    """The breaker rating whose capacity (amps x 0.24 kW) is closest to `capacity_kw`."""
    return max(1, round(capacity_kw / KW_PER_BREAKER_AMP))


def clamp(value: float, low: float, high: float) -> float:
    return low if value < low else high if value > high else value
