"""What a VEN is asked to do and what it reports: the domain's requests and records.

Plain immutable values with no behaviour: the contract parses commands into them and
builds payloads from them, the controller acts on them, M&V reads them. The per-interval
ones are NamedTuples because they are built in bulk and NamedTuples build fastest.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

__all__ = [
    "CircuitReading",
    "EndEvent",
    "EventAck",
    "EventEnded",
    "SetLoad",
    "SetPanel",
    "ShedLoad",
    "StartEvent",
    "Telemetry",
]


class CircuitReading(NamedTuple):
    """Circuit -> controller after an Advance: what happened since the last one."""

    circuit_id: str
    t: float
    power_kw: float  # mean over the advanced span
    energy_kwh: float  # energy over the advanced span
    shed_capability_kw: float
    locked_out: bool
    comfort_violated: bool
    comfort_minutes: float  # minutes out of comfort over the span
    shed_request_kw: float
    floor_kw: float
    extra: dict[str, Any] | None = None  # e.g. indoor_c, soc
    twin_kwh: float | None = None  # the twin's energy over the span: the circuit without the event
    twin_comfort_minutes: float | None = None  # and the twin's minutes out of comfort
    # Minutes and degree-minutes past setpoint plus tolerance (sim.comfort), circuit then twin.
    warm: tuple[float, float] | None = None
    twin_warm: tuple[float, float] | None = None
    hot_water: bool = False  # a water heater: its comfort minutes are cold-water minutes
    felt_dm: float | None = None  # degree-minutes past the setpoint itself: what occupants feel
    expected_kw: float | None = None  # the device's own forecast of its free draw (a thermostat)


@dataclass(frozen=True, slots=True)
class SetLoad:
    """Change a circuit's settings; None leaves a setting as it is."""

    circuit_id: str
    enabled: bool | None = None
    capacity_kw: float | None = None
    priority: int | None = None


@dataclass(frozen=True, slots=True)
class StartEvent:
    """A DR event for this VEN: shed `requested_kw` against the baseline for `duration_s`.

    The event starts when the controller takes it, on the controller's own clock (its
    last tick): a sender's clock may differ, so a sender gives only how long it lasts.
    Built by `sim.commands` from the backend's `event` and `shedPanel` commands, by
    `scheduled` from a scenario's event window, and directly for "from now, this long".
    """

    event_id: str
    requested_kw: float
    duration_s: float
    correlation_id: str | None = None

    @classmethod
    def scheduled(cls, event_id: str, requested_kw: float, start: float,
                  end: float) -> StartEvent:
        """The event of a window [start, end], sent to the VEN at `start`."""
        return cls(event_id, requested_kw, end - start)


@dataclass(frozen=True, slots=True)
class EndEvent:
    """End the named event early (restore). Other events stay active."""

    event_id: str
    correlation_id: str | None = None


class Telemetry(NamedTuple):  # one per VEN per interval: cheap to build matters
    """One report from a VEN: what it used, shed and was asked to shed over an interval."""

    ven_id: str
    t0: float
    t1: float
    epoch: float  # unix seconds of t1
    used_kw: float
    baseline_kw: float
    shed_kw: float
    requested_kw: float
    event_id: str | None
    battery_soc: float | None
    shed_capability_kw: float
    comfort_minutes: float
    panel_amps: int
    loads: tuple[dict[str, Any], ...]
    # Simulation only, never on the wire: what the VEN would have drawn without its latest
    # event (its circuits' twins), None when it has none. The controller only adds it up.
    counterfactual_kw: float | None = None
    counterfactual_comfort_minutes: float | None = None
    # (minutes, degree-minutes) past setpoint plus tolerance: the VEN's HVAC, then its twin's.
    warm: tuple[float, float] = (0.0, 0.0)
    counterfactual_warm: tuple[float, float] | None = None
    # Water heaters' minutes out of comfort (cold water), then their twins': part of the above.
    cold_water: tuple[float, float] = (0.0, 0.0)


@dataclass(frozen=True, slots=True)
class EventAck:
    """Controller -> its subscribers when an event starts: what was curtailed."""

    ven_id: str
    event_id: str
    correlation_id: str | None
    requested_kw: float
    actual_shed_kw: float
    circuits: tuple[dict[str, Any], ...]
    ok: bool = True
    error: str | None = None


@dataclass(frozen=True, slots=True)
class EventEnded:
    """Controller -> subscribers: an event is over (by its clock or by a restore)."""

    ven_id: str
    event_id: str
    correlation_id: str | None
    found: bool  # False: a restore named an event that was not active
    requested_kw: float = 0.0
    baseline_kw: float = 0.0
    delivered_kw: float = 0.0  # mean of (baseline - actual) over the event so far
    delivered_kwh: float = 0.0
    start_epoch: float = 0.0
    end_epoch: float = 0.0
    opted_out: bool = False  # the household overrode it (sim.occupants); end_epoch is when


@dataclass(frozen=True, slots=True)
class ShedLoad:
    """Shed `reduce_kw` on one circuit for `duration_s` (an event's plan overrides it)."""

    circuit_id: str
    reduce_kw: float
    duration_s: float


@dataclass(frozen=True, slots=True)
class SetPanel:
    """Change the panel's breaker rating: one of `sim.limits.PANEL_SIZES` (A)."""

    amps: int
