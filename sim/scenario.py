"""Scenario files: the dataclasses the runner uses and the helpers that parse their values.

Reading and validating a YAML file (`load_scenario`) lives in sim.scenario_loader, which
builds these; this module never imports it.
"""

from __future__ import annotations

import dataclasses
import json
import math
import random
import re
from dataclasses import dataclass
from datetime import date, datetime, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from sim.limits import MAX_SCENARIO_BYTES
from sim.occupants import OptOutSpec
from sim.world import Weather

# Keep in step with $defs.duration in the schema (a test compares them).
DURATION_RE = re.compile(
    r"^([0-9]+(\.[0-9]+)?|([0-9]+(\.[0-9]+)?d)?([0-9]+(\.[0-9]+)?h)?"
    r"([0-9]+(\.[0-9]+)?m)?([0-9]+(\.[0-9]+)?s)?)$"
)
_UNIT_S = {"d": 86400.0, "h": 3600.0, "m": 60.0, "s": 1.0, "": 1.0}
_DURATION_HINT = "must be a positive duration such as 2h or 7200"
Fleet = tuple["FleetGroup", ...]


class ScenarioError(Exception):
    """A bad scenario file; str() is one line: `file:line: field.path: what is wrong (got X)`."""

    def __init__(self, file: str, line: int | None, field: str, message: str) -> None:
        self.file, self.line, self.field, self.message = str(file), line, field, message
        where = self.file if line is None else f"{self.file}:{line}"
        super().__init__(": ".join(part for part in (where, field, message) if part))

    def __reduce__(self) -> tuple[Any, ...]:  # keeps it picklable across processes
        return type(self), (self.file, self.line, self.field, self.message)


@dataclass(frozen=True)
class FleetGroup:
    name: str
    template: str  # 'house' | 'apartment' | 'solar_home'
    count: int
    params: dict  # name -> fixed value, {"min": a, "max": b} or {"choice": [...]}
    id_prefix: str


@dataclass(frozen=True)
class EventSpec:
    id: str
    start_s: float
    duration_s: float
    requested_kw: float | None  # fleet total for the targeted VENs; exactly one of the two is set
    per_ven_kw: float | None
    target: str  # "all" or a fleet group name

    @property
    def end_s(self) -> float:
        return self.start_s + self.duration_s


# What a scenario's `faults:` list may hold.
FAULT_KINDS = ("broker_outage", "connection_drop", "ven_crash", "latency", "clock_skew")


@dataclass(frozen=True)
class FaultSpec:
    """Something going wrong on simulated time: the broker away, a group's links dropped or
    slow, VENs crashed, or their clocks wrong."""

    kind: str  # one of FAULT_KINDS
    start_s: float
    duration_s: float
    target: str | None = None  # a fleet group name or "all"; for ven_crash also a VEN id
    delay_s: float = 0.0  # latency: added to each message, both ways
    jitter_s: float = 0.0  # latency: up to this much more, drawn per message
    offset_s: float = 0.0  # clock_skew: the VENs' clocks run this far ahead (behind if < 0)

    @property
    def end_s(self) -> float:
        return self.start_s + self.duration_s


@dataclass(frozen=True)
class MvSpec:
    """The scenario's `mv:` block: how events are settled (docs/mv.md)."""

    settlement: str = "pre_window"  # a method of sim.baseline, or "counterfactual"
    warmup_days: int = 0  # simulated before the start, left out of the outputs
    holidays: tuple[date, ...] = ()  # day types for prior-day baselines
    caiso_cap: float = 0.2  # the day-of adjustment's cap, +/-
    control_share: float = 0.0  # a random share of the fleet never dispatched (control group)
    # Each VEN restores over a span drawn between the two (s); None: the controller's default.
    restore_window: tuple[float, float] | None = (900.0, 1800.0)


@dataclass(frozen=True)
class Scenario:
    name: str
    seed: int
    start: datetime
    duration_s: float
    speed: str | float
    report_interval_s: float
    physics_step_s: float
    baseline_window_s: float
    weather: Weather
    fleet: tuple[FleetGroup, ...]
    events: tuple[EventSpec, ...]
    source: str
    description: str = ""
    warnings: tuple[str, ...] = ()  # `file:line: field: message`, probable unit mistakes
    mv: MvSpec = MvSpec()
    faults: tuple[FaultSpec, ...] = ()
    opt_out: OptOutSpec | None = None  # `occupants.opt_out`: households override (sim.occupants)

    @property
    def zone(self) -> tzinfo | None:
        """The scenario's `timezone` (its start is in it), or None: outputs are then in UTC."""
        return self.start.tzinfo if isinstance(self.start.tzinfo, ZoneInfo) else None

    @property
    def ven_count(self) -> int:
        return sum(group.count for group in self.fleet)

    def with_overrides(
        self, *, seed: int | None = None, speed: str | float | None = None, vens: int | None = None
    ) -> Scenario:
        """A copy with CLI overrides. `vens` rescales group counts and fleet-total requests."""
        changes: dict[str, Any] = {}
        if seed is not None:
            changes["seed"] = int(seed)
        if speed is not None:
            changes["speed"] = parse_speed(str(speed))
        if vens is not None:
            counts = _scale_counts([group.count for group in self.fleet], vens)
            fleet = tuple(
                dataclasses.replace(g, count=n) for g, n in zip(self.fleet, counts, strict=True)
            )
            events = tuple(_rescale(e, self.fleet, fleet) for e in self.events)
            changes.update(fleet=fleet, events=events)
        return dataclasses.replace(self, **changes)


def read_scenario_text(source: str) -> str:
    """A scenario file's text, refused (ScenarioError) if unreadable or over the size limit."""
    try:
        with open(source, encoding="utf-8") as handle:
            text = handle.read(MAX_SCENARIO_BYTES + 1)
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise ScenarioError(source, None, "", f"cannot read scenario file: {reason}") from None
    if len(text) > MAX_SCENARIO_BYTES:
        raise ScenarioError(source, None, "", f"file is over {MAX_SCENARIO_BYTES:,} characters; "
                            "a scenario is a few KB")
    return text


def parse_duration(value: str | float) -> float:
    """Seconds from a number or a string like "90s", "45m", "2h", "1d", "1h30m"; must be > 0."""
    seconds = duration_seconds(value)
    if seconds <= 0:
        raise ValueError(f"must be positive (got {show_value(value)})")
    return seconds


def format_duration(seconds: float) -> str:
    """The inverse of parse_duration for messages: 5400 -> "1h30m"."""
    if seconds < 0:
        return "-" + format_duration(-seconds)
    whole, out = int(seconds), ""
    for unit, size in (("h", 3600), ("m", 60)):  # hours, not days: offsets read like clock times
        if whole >= size:
            out += f"{whole // size}{unit}"
            whole %= size
    rest = whole + (seconds - int(seconds))
    return out + f"{rest:g}s" if rest or not out else out


def parse_speed(text: str) -> str | float:
    """"max" or a positive finite number (1 = real time); ValueError otherwise."""
    cleaned = str(text).strip().lower()
    if cleaned == "max":
        return "max"
    try:
        value = float(cleaned)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"speed must be max or a positive number such as 1 or 60 (got {text!r})")
    return value


def sample_params(params: dict, rng: random.Random) -> dict:
    """Concrete values for one VEN; keys are drawn in sorted order so runs are reproducible."""
    out = {}
    for key in sorted(params):
        spec = params[key]
        if isinstance(spec, dict) and "choice" in spec:
            out[key] = rng.choice(list(spec["choice"]))
        elif isinstance(spec, dict):
            low, high = spec["min"], spec["max"]
            both_int = all(isinstance(v, int) and not isinstance(v, bool) for v in (low, high))
            out[key] = rng.randint(low, high) if both_int else rng.uniform(low, high)
        else:
            out[key] = spec
    return out


def ven_ids(scenario: Scenario) -> list[tuple[str, FleetGroup]]:
    """Every VEN id in fleet order, numbered from 1 within its group: ven-homes-0001, ..."""
    return [(f"{g.id_prefix}-{i:04d}", g) for g in scenario.fleet for i in range(1, g.count + 1)]


def is_ven_id(name: str, fleet: tuple[FleetGroup, ...]) -> bool:
    """Whether `name` is one of the fleet's VEN ids (as `ven_ids` numbers them), without
    listing them: a fleet may be too big to list."""
    for g in fleet:
        number = name.removeprefix(f"{g.id_prefix}-")
        if number != name and number.isdigit() and name == f"{g.id_prefix}-{int(number):04d}":
            return 1 <= int(number) <= g.count
    return False


def duration_seconds(value: str | float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError(f"{_DURATION_HINT} (got {show_value(value)})")
    if isinstance(value, str):
        text = value.strip()
        if not text or not DURATION_RE.fullmatch(text):
            raise ValueError(f"{_DURATION_HINT} (got {show_value(value)})")
        value = sum(float(n) * _UNIT_S[u] for n, u in re.findall(r"([0-9.]+)([dhms]?)", text))
    if not math.isfinite(value):
        raise ValueError(f"{_DURATION_HINT} (got {show_value(value)})")
    return float(value)


def _rescale(event: EventSpec, old: Fleet, new: Fleet) -> EventSpec:
    """Keep each targeted VEN's share of a fleet-total request when the fleet is resized."""
    before = sum(g.count for g in old if event.target in ("all", g.name))
    after = sum(g.count for g in new if event.target in ("all", g.name))
    if event.requested_kw is None or not before:
        return event
    return dataclasses.replace(event, requested_kw=event.requested_kw * after / before)


def _scale_counts(counts: list[int], total: int) -> list[int]:
    """Largest-remainder split of `total`; every group keeps >= 1 when total allows it."""
    if int(total) != total or total < 1:
        raise ValueError(f"vens must be a positive whole number (got {total!r})")
    total, old = int(total), sum(counts)
    out = [total * c // old for c in counts]
    by_remainder = sorted(range(len(counts)), key=lambda i: (-(total * counts[i] % old), i))
    for i in by_remainder[: total - sum(out)]:
        out[i] += 1
    if total >= len(counts):
        for i, n in enumerate(out):
            if n == 0:  # take one from the largest group (earliest on ties)
                donor = max(range(len(out)), key=lambda j: (out[j], -j))
                out[donor] -= 1
                out[i] = 1
    return out


def show_value(value: Any, limit: int = 60) -> str:
    """A value as the user would have written it in YAML, for "(got X)"."""
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif value is None:
        text = "null"
    elif isinstance(value, str):
        text = json.dumps(value)
    elif isinstance(value, dict):
        text = "{" + ", ".join(f"{k}: {show_value(v, limit)}" for k, v in value.items()) + "}"
    elif isinstance(value, list | tuple):
        text = "[" + ", ".join(show_value(v, limit) for v in value) + "]"
    else:
        text = f"{value:g}" if isinstance(value, float) else str(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
