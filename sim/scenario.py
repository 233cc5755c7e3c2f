"""Scenario files: the dataclasses the runner uses and the YAML loader that builds them.

A file is checked in two passes: the JSON Schema in sim/schema/scenario.schema.json (shape,
types, unknown keys) and then the checks that need parsed values (durations, event windows,
cross references). Only the first problem is reported, as one `file:line: field: message` line.
"""

from __future__ import annotations

import bisect
import dataclasses
import difflib
import functools
import json
import math
import os
import random
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from typing import Any, NoReturn

from jsonschema import Draft202012Validator
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.constructor import RoundTripConstructor
from ruamel.yaml.error import YAMLError
from ruamel.yaml.scalarbool import ScalarBoolean

# Keep in step with $defs.duration in the schema (a test compares them).
DURATION_RE = re.compile(
    r"^([0-9]+(\.[0-9]+)?|([0-9]+(\.[0-9]+)?d)?([0-9]+(\.[0-9]+)?h)?"
    r"([0-9]+(\.[0-9]+)?m)?([0-9]+(\.[0-9]+)?s)?)$"
)
_UNIT_S = {"d": 86400.0, "h": 3600.0, "m": 60.0, "s": 1.0, "": 1.0}
_HHMM_RE = re.compile(r"^([01]?[0-9]|2[0-3]):([0-5][0-9])(?::([0-5][0-9]))?$")
_RISE_H = 10.0  # hours from the daily minimum (just before dawn) up to the peak
_DURATION_HINT = "must be a positive duration such as 2h or 7200"
_START_HINT = 'must be "HH:MM", an ISO datetime or an offset such as +16h'
_ISO_HINT = "must be an ISO 8601 datetime such as 2026-07-15T00:00:00Z"
Path = tuple[str | int, ...]
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
class Weather:
    min_c: float
    max_c: float
    peak_hour: float = 15.0
    cloud_cover: float = 0.0
    points: tuple[tuple[float, float], ...] = ()  # (hour_since_start, temp_c); overrides the curve

    def outdoor_c(self, t_s: float, hour_of_day: float) -> float:
        if self.points:
            return _interpolate(self.points, t_s / 3600.0)
        # Cosine rise from the minimum _RISE_H before the peak, slower cosine fall overnight.
        since_min = (hour_of_day - (self.peak_hour - _RISE_H)) % 24.0
        if since_min <= _RISE_H:
            frac = (1.0 - math.cos(math.pi * since_min / _RISE_H)) / 2.0
        else:
            frac = (1.0 + math.cos(math.pi * (since_min - _RISE_H) / (24.0 - _RISE_H))) / 2.0
        return self.min_c + (self.max_c - self.min_c) * frac

    def irradiance(self, hour_of_day: float) -> float:
        hour = hour_of_day % 24.0
        if not 6.0 < hour < 20.0:
            return 0.0
        # sin^2 bell: ~7 peak-sun-hours over 06:00-20:00, like a clear summer day.
        return math.sin(math.pi * (hour - 6.0) / 14.0) ** 2 * (1.0 - 0.75 * self.cloud_cover)


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


def parse_duration(value: str | float) -> float:
    """Seconds from a number or a string like "90s", "45m", "2h", "1d", "1h30m"; must be > 0."""
    seconds = _duration_s(value)
    if seconds <= 0:
        raise ValueError(f"must be positive (got {_show(value)})")
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


def load_scenario(path: str | os.PathLike) -> Scenario:
    source = os.fspath(path)
    try:
        with open(source, encoding="utf-8") as handle:
            text = handle.read()
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise ScenarioError(source, None, "", f"cannot read scenario file: {reason}") from None
    return _Loader(source, text).build()


def _duration_s(value: str | float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError(f"{_DURATION_HINT} (got {_show(value)})")
    if isinstance(value, str):
        text = value.strip()
        if not text or not DURATION_RE.fullmatch(text):
            raise ValueError(f"{_DURATION_HINT} (got {_show(value)})")
        value = sum(float(n) * _UNIT_S[u] for n, u in re.findall(r"([0-9.]+)([dhms]?)", text))
    if not math.isfinite(value):
        raise ValueError(f"{_DURATION_HINT} (got {_show(value)})")
    return float(value)


def _interpolate(points: tuple[tuple[float, float], ...], hour: float) -> float:
    hours = [p[0] for p in points]
    i = bisect.bisect_right(hours, hour)
    if i == 0:
        return points[0][1]
    if i == len(points):
        return points[-1][1]  # hold the last reading past the end
    (h0, t0), (h1, t1) = points[i - 1], points[i]
    return t0 + (t1 - t0) * (hour - h0) / (h1 - h0)


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


def _show(value: Any, limit: int = 60) -> str:
    """A value as the user would have written it in YAML, for "(got X)"."""
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif value is None:
        text = "null"
    elif isinstance(value, str):
        text = json.dumps(value)
    elif isinstance(value, dict):
        text = "{" + ", ".join(f"{k}: {_show(v, limit)}" for k, v in value.items()) + "}"
    elif isinstance(value, list | tuple):
        text = "[" + ", ".join(_show(v, limit) for v in value) + "]"
    else:
        text = f"{value:g}" if isinstance(value, float) else str(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _field(path: Path) -> str:
    out = ""
    for key in path:
        out += f"[{key}]" if isinstance(key, int) else (f".{key}" if out else str(key))
    return out


class _Constructor(RoundTripConstructor):
    """Keeps timestamps as the text written, so we parse them (and echo them) ourselves."""


_Constructor.add_constructor("tag:yaml.org,2002:timestamp", RoundTripConstructor.construct_yaml_str)


@functools.cache
def _validator() -> Draft202012Validator:
    text = resources.files("sim").joinpath("schema/scenario.schema.json").read_text("utf-8")
    return Draft202012Validator(json.loads(text))


_RANK = {"unknown": 0, "value": 1, "required": 2}  # within one line: typos before missing keys
_TYPE_NAMES = {
    "object": "a mapping", "array": "a list", "string": "text", "number": "a number",
    "integer": "a whole number", "boolean": "true or false", "null": "empty",
}
_BOUNDS = {"minimum": "at least", "maximum": "at most", "exclusiveMaximum": "less than"}


def _suggest(word: Any, options: list) -> str:
    close = difflib.get_close_matches(str(word), [str(o) for o in options], n=1)
    return f"did you mean {close[0]}?" if close else ""


def _explain(err: Any) -> list[tuple[Path, str, str]]:
    """Human (path, message, kind) for one jsonschema error; unknown keys are named one by one."""
    path, kw, want, got = tuple(err.absolute_path), err.validator, err.validator_value, err.instance
    custom = err.schema.get("x-errors", {}).get(kw) if isinstance(err.schema, dict) else None
    if kw == "additionalProperties":
        allowed = list(err.schema.get("properties", {}))
        listing = "allowed: " + ", ".join(allowed)
        return [
            ((*path, k), f"unknown key ({_suggest(k, allowed) or listing})", "unknown")
            for k in got
            if k not in allowed
        ]
    if kw == "required":
        return [((*path, k), "required key is missing", "required") for k in want if k not in got]
    if kw == "oneOf" and not custom:  # the event's "exactly one of" rule
        keys = [branch["required"][0] for branch in want]
        present = [k for k in got if k in keys]
        if len(present) > 1:
            return [((*path, present[-1]), f"give only one of {' or '.join(keys)} (got both)",
                     "value")]
        return [(path, f"needs one of {' or '.join(keys)} (got neither)", "required")]
    hint = ""
    if custom:
        message = custom
    elif kw == "type":
        names = [want] if isinstance(want, str) else want
        message = "must be " + " or ".join(_TYPE_NAMES.get(n, n) for n in names)
    elif kw == "enum":
        message = "must be one of " + ", ".join(str(v) for v in want)
        hint = "; " + _suggest(got, want) if _suggest(got, want) else ""
    elif kw == "exclusiveMinimum":
        message = "must be positive" if want == 0 else f"must be greater than {want}"
    elif kw in _BOUNDS:
        message = f"must be {_BOUNDS[kw]} {want}"
    elif kw in ("minItems", "maxItems"):
        message = f"must have {'at least' if kw == 'minItems' else 'at most'} {want} item(s)"
    else:
        message = err.message
    return [(path, f"{message} (got {_show(got)}{hint})", "value")]


class _Loader:
    """Parses, validates and builds one file; any problem raises the first ScenarioError."""

    def __init__(self, source: str, text: str) -> None:
        self.source = source
        yaml = YAML(typ="rt")
        yaml.Constructor = _Constructor
        try:
            self.root = yaml.load(text)
        except YAMLError as exc:
            mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
            problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
            context, opened = getattr(exc, "context", None), getattr(exc, "context_mark", None)
            # An unclosed [ or quote is noticed lines later: say where it opened.
            if context and "constructing" not in context and opened and opened.line != mark.line:
                problem += f" ({context} that starts on line {opened.line + 1})"
            line = mark.line + 1 if mark else None
            raise ScenarioError(source, line, "", f"invalid YAML: {problem}") from None
        self.data = self._plain(self.root, ())

    def fail(self, path: Path, message: str, got: Any = ..., hint: str = "") -> NoReturn:
        if got is not ...:
            message += f" (got {_show(got)}{'; ' + hint if hint else ''})"
        raise ScenarioError(self.source, self._walk(path)[1], _field(path), message)

    def _walk(self, path: Path) -> tuple[Any, int]:
        """The deepest node on `path` that exists and its line (a key's, or a list item's)."""
        node, line = self.root, 1
        for key in path:
            if isinstance(node, CommentedMap) and key in node:
                line = node.lc.key(key)[0] + 1
            elif isinstance(node, CommentedSeq) and isinstance(key, int) and key < len(node):
                line = node.lc.item(key)[0] + 1
            else:
                break
            node = node[key]
        return node, line

    def _plain(self, node: Any, path: Path) -> Any:
        """ruamel's tree as plain JSON-like data, which is what jsonschema expects."""
        if isinstance(node, dict):
            return {k: self._plain(v, (*path, k)) for k, v in node.items()}
        if isinstance(node, list):
            return [self._plain(v, (*path, i)) for i, v in enumerate(node)]
        if isinstance(node, bool | ScalarBoolean):  # before int: both are ints
            return bool(node)
        if isinstance(node, int):
            return int(node)
        if isinstance(node, float):
            if not math.isfinite(node):
                self.fail(path, "must be a finite number", float(node))
            return float(node)
        if node is None or isinstance(node, str):
            return None if node is None else str(node)
        return str(getattr(node, "value", node))  # explicitly tagged scalars

    def check_schema(self) -> None:
        issues: dict[tuple[int, int, str], tuple[Path, str]] = {}
        for err in _validator().iter_errors(self.data):
            for path, message, kind in _explain(err):
                node, line = self._walk(path)
                if kind == "required" and isinstance(node, CommentedMap) and node:
                    line = max(node.lc.key(k)[0] for k in node) + 1  # missing = after the rest
                issues.setdefault((line, _RANK[kind], _field(path)), (path, message))
        if issues:
            self.fail(*issues[min(issues)])

    def duration(self, path: Path, value: Any) -> float:
        try:
            return parse_duration(value)
        except ValueError as exc:
            self.fail(path, str(exc))

    def when(self, path: Path, text: str, hint: str) -> datetime:
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            self.fail(path, hint, text)
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)

    def build(self) -> Scenario:
        d = self.data
        if not isinstance(d, dict):
            self.fail((), "a scenario must be a YAML mapping with keys such as name and fleet", d)
        self.check_schema()
        start = self.when(("start",), d["start"], _ISO_HINT)
        duration = self.duration(("duration",), d["duration"])
        step = self.duration(("physics_step",), d.get("physics_step", 60))
        report = self.duration(("report_interval",), d.get("report_interval", 300))
        ratio = report / step
        if round(ratio) < 1 or abs(ratio - round(ratio)) > 1e-9:
            if "report_interval" in d:
                self.fail(("report_interval",), "must be a whole multiple of physics_step "
                          f"({format_duration(step)})", d["report_interval"])
            self.fail(("physics_step",), "must divide report_interval (5m) evenly",
                      d["physics_step"])
        if report > duration:
            self.fail(("report_interval",), "must not exceed duration", d["report_interval"])
        fleet = self.fleet(d["fleet"])
        speed = d.get("speed", "max")
        return Scenario(
            name=d["name"], seed=int(d.get("seed", 0)), start=start, duration_s=duration,
            speed=speed if speed == "max" else float(speed),
            report_interval_s=report, physics_step_s=step,
            baseline_window_s=self.duration(("baseline_window",), d.get("baseline_window", 7200)),
            weather=self.weather(d["weather"]), fleet=fleet,
            events=self.events(d.get("events", []), start, duration, report, fleet),
            source=self.source, description=d.get("description", ""),
        )

    def weather(self, w: dict) -> Weather:
        points = tuple((float(h), float(t)) for h, t in w.get("points", []))
        for i in range(1, len(points)):
            if points[i][0] <= points[i - 1][0]:
                self.fail(("weather", "points", i), "hours must increase from one point to the "
                          f"next (previous is {points[i - 1][0]:g})", w["points"][i])
        temps = [t for _, t in points]  # with points only, min_c/max_c describe their range
        low = float(w.get("min_c", min(temps, default=0)))
        high = float(w.get("max_c", max(temps, default=0)))
        if low > high:
            self.fail(("weather", "max_c"), f"must not be below min_c ({low:g})", high)
        peak, cloud = float(w.get("peak_hour", 15)), float(w.get("cloud_cover", 0))
        return Weather(low, high, peak, cloud, points)

    def fleet(self, groups: list[dict]) -> tuple[FleetGroup, ...]:
        out: list[FleetGroup] = []
        for i, g in enumerate(groups):
            name, prefix = g["name"], g.get("id_prefix", f"ven-{g['name']}")
            if name == "all":
                self.fail(("fleet", i, "name"), "all is reserved for targeting every group", name)
            for j, other in enumerate(out):
                if name == other.name:
                    self.fail(("fleet", i, "name"), f"duplicate group name (see fleet[{j}])", name)
                if prefix == other.id_prefix:
                    self.fail(("fleet", i, "id_prefix" if "id_prefix" in g else "name"),
                              f"VEN ids would clash with fleet[{j}] (id_prefix {prefix})", prefix)
            params = g.get("params", {})
            for key, spec in params.items():
                if isinstance(spec, dict) and "min" in spec and spec["min"] > spec["max"]:
                    self.fail(("fleet", i, "params", key), "min must not exceed max", spec)
            out.append(FleetGroup(name, g["template"], int(g["count"]), dict(params), prefix))
        return tuple(out)

    def events(self, events: list[dict], start: datetime, duration: float, report: float,
               fleet: tuple[FleetGroup, ...]) -> tuple[EventSpec, ...]:
        out: list[EventSpec] = []
        groups = [g.name for g in fleet]
        for i, e in enumerate(events):
            at = ("events", i)
            for j, other in enumerate(out):
                if e["id"] == other.id:
                    self.fail((*at, "id"), f"duplicate event id (see events[{j}])", e["id"])
            begin = self.event_start((*at, "start"), e["start"], start)
            length = self.duration((*at, "duration"), e["duration"])
            if begin < 0:
                self.fail((*at, "start"), "is before the scenario start "
                          f"({start.isoformat()})", e["start"])
            if begin < report:  # the runner needs reports before the event to form a baseline
                self.fail((*at, "start"), "needs at least one report interval "
                          f"({format_duration(report)}) before it for a baseline", e["start"])
            end = format_duration(duration)
            if begin >= duration:
                self.fail((*at, "start"), f"is at or after the scenario end (+{end})", e["start"])
            if begin + length > duration:
                self.fail((*at, "duration"), f"runs past the scenario end (+{end}): the event "
                          f"would end at +{format_duration(begin + length)}", e["duration"])
            target = e.get("target", "all")
            if target != "all" and target not in groups:
                self.fail((*at, "target"), f"is not a fleet group ({', '.join(groups)} or all)",
                          target, _suggest(target, groups))
            kw, per = e.get("requested_kw"), e.get("per_ven_kw")
            out.append(EventSpec(e["id"], begin, length, None if kw is None else float(kw),
                                 None if per is None else float(per), target))
        return tuple(out)

    def event_start(self, path: Path, text: str, start: datetime) -> float:
        if text.startswith("+"):
            try:
                return _duration_s(text[1:])
            except ValueError:
                self.fail(path, _START_HINT, text)
        if match := _HHMM_RE.fullmatch(text):
            hour, minute, second = (int(part or 0) for part in match.groups())
            moment = start.replace(hour=hour, minute=minute, second=second, microsecond=0)
        else:
            moment = self.when(path, text, _START_HINT)
        return (moment - start).total_seconds()
