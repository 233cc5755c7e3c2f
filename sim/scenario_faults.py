"""Reading a scenario's `faults:` list: each fault's window, target and settings checked,
with the loader's `file:line: field: message` errors. The loader (sim.scenario_loader)
calls `read_faults`; the faults themselves are played by ven_sim.faults."""

from __future__ import annotations

from datetime import datetime
from typing import Any, NoReturn, Protocol

from sim.limits import MAX_CLOCK_SKEW_S, MAX_FAULT_LATENCY_S
from sim.scenario import (
    FaultSpec,
    FleetGroup,
    duration_seconds,
    format_duration,
    is_ven_id,
)

__all__ = ["read_faults"]

Path = tuple[str | int, ...]


class _Reader(Protocol):
    """What `read_faults` needs of the loader: its error reporting and time parsing."""

    def fail(self, path: Path, message: str, got: Any = ..., hint: str = "") -> NoReturn: ...
    def duration(self, path: Path, value: Any) -> float: ...
    def event_start(self, path: Path, text: str, start: datetime) -> float: ...


def read_faults(reader: _Reader, faults: list[dict], start: datetime, duration: float,
                fleet: tuple[FleetGroup, ...],
                suggest: Any = lambda name, names: "") -> tuple[FaultSpec, ...]:
    """The FaultSpecs of a schema-valid `faults:` list; the first problem fails the load."""
    out = []
    for i, fault in enumerate(faults):
        at = ("faults", i)
        begin = reader.event_start((*at, "start"), fault["start"], start)
        length = reader.duration((*at, "duration"), fault["duration"])
        if not 0 <= begin < duration:
            reader.fail((*at, "start"), "must lie within the scenario "
                        f"(+0 to +{format_duration(duration)})", fault["start"])
        if begin + length > duration:
            reader.fail((*at, "duration"), "runs past the scenario end "
                        f"(+{format_duration(duration)})", fault["duration"])
        kind = fault["kind"]
        target = _target(reader, fault, at, fleet, suggest)
        delay, jitter, offset = 0.0, 0.0, 0.0
        if kind == "latency":
            delay, jitter = _latency(reader, fault, at)
        elif "delay" in fault or "jitter" in fault:
            reader.fail((*at, "delay" if "delay" in fault else "jitter"),
                        f"only a latency fault has a delay or jitter, not a {kind}")
        if kind == "clock_skew":
            offset = _offset(reader, fault, at)
        elif "offset" in fault:
            reader.fail((*at, "offset"), f"only a clock_skew fault has an offset, not a {kind}")
        out.append(FaultSpec(kind, begin, length, target, delay, jitter, offset))
    return tuple(out)


def _target(reader: _Reader, fault: dict, at: Path, fleet: tuple[FleetGroup, ...],
            suggest: Any) -> str | None:
    kind, target = fault["kind"], fault.get("target")
    groups = [group.name for group in fleet]
    if target is None and kind != "broker_outage":
        reader.fail((*at, "target"), f"a {kind} needs a fleet group or all")
    if target is not None and kind == "broker_outage":
        reader.fail((*at, "target"), "a broker_outage takes all the VENs: no target", target)
    if target not in (None, "all", *groups) and not (kind == "ven_crash"
                                                     and is_ven_id(target, fleet)):
        reader.fail((*at, "target"), f"is not a fleet group ({', '.join(groups)} or all)",
                    target, suggest(target, groups))
    return target


def _latency(reader: _Reader, fault: dict, at: Path) -> tuple[float, float]:
    if "delay" not in fault:
        reader.fail((*at, "delay"), "a latency fault needs a delay such as 2s")
    delay = reader.duration((*at, "delay"), fault["delay"])
    jitter = 0.0
    if "jitter" in fault:
        jitter = _at_least_zero(reader, (*at, "jitter"), fault["jitter"])
    if delay + jitter > MAX_FAULT_LATENCY_S:
        reader.fail((*at, "delay"), f"delay plus jitter must be at most "
                    f"{format_duration(MAX_FAULT_LATENCY_S)}: a link that slow is gone "
                    "(use a connection_drop)", fault["delay"])
    return delay, jitter


def _offset(reader: _Reader, fault: dict, at: Path) -> float:
    """Seconds, or a duration with a sign: "+90s" runs ahead, "-5m" behind."""
    if "offset" not in fault:
        reader.fail((*at, "offset"), "a clock_skew fault needs an offset such as +90s or -5m")
    value = fault["offset"]
    sign = 1.0
    if isinstance(value, str) and value.strip()[:1] in "+-":
        sign = -1.0 if value.strip()[0] == "-" else 1.0
        value = value.strip()[1:]
    seconds = sign * _at_least_zero(reader, (*at, "offset"), value)
    if seconds == 0 or abs(seconds) > MAX_CLOCK_SKEW_S:
        reader.fail((*at, "offset"), "must be non-zero and at most "
                    f"{format_duration(MAX_CLOCK_SKEW_S)} either way", fault["offset"])
    return seconds


def _at_least_zero(reader: _Reader, path: Path, value: Any) -> float:
    try:
        seconds = duration_seconds(value)
    except ValueError as exc:
        reader.fail(path, str(exc))
    if seconds < 0:
        reader.fail(path, "must not be negative", value)
    return seconds
