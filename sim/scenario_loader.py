"""The YAML loader for scenario files: parsing, schema validation and error messages.

A file is checked in two passes: the JSON Schema in sim/schema/scenario.schema.json (shape,
types, unknown keys) and then the checks that need parsed values (durations, event windows,
cross references). Only the first problem is reported, as one `file:line: field: message` line.
The dataclasses it builds live in sim.scenario.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import json
import math
import os
import re
from datetime import UTC, datetime, tzinfo
from importlib import resources
from typing import Any, NoReturn
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from jsonschema import Draft202012Validator
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.constructor import RoundTripConstructor
from ruamel.yaml.error import YAMLError
from ruamel.yaml.scalarbool import ScalarBoolean

from sim.limits import (
    MAX_REPORTS_PER_RUN,
    MAX_SCENARIO_VALUES,
    MAX_VENS_PER_RUN,
)
from sim.occupants import OptOutSpec
from sim.scenario import (
    EventSpec,
    FleetGroup,
    Scenario,
    ScenarioError,
    Weather,
    duration_seconds,
    format_duration,
    parse_duration,
    read_scenario_text,
    show_value,
)
from sim.scenario_faults import read_faults
from sim.scenario_mv import mv_spec
from sim.scenario_sanity import sanity_warnings

_HHMM_RE = re.compile(r"^([01]?[0-9]|2[0-3]):([0-5][0-9])(?::([0-5][0-9]))?$")
_START_HINT = 'must be "HH:MM", an ISO datetime or an offset such as +16h'
_ISO_HINT = "must be an ISO 8601 datetime such as 2026-07-15T00:00:00Z"
Path = tuple[str | int, ...]


_SPLIT_HINT = ("split it across processes: the fleet's workers each run a part "
               "(ven-sim bench sim --workers K shows the pattern)")


def load_scenario(path: str | os.PathLike) -> Scenario:
    source = os.fspath(path)
    return _Loader(source, read_scenario_text(source)).build()


def size_problem(scenario: Scenario) -> str | None:
    """Why `scenario` is too big for one process (VENs, or telemetry rows kept), or None."""
    vens = scenario.ven_count
    if vens > MAX_VENS_PER_RUN:
        return f"{vens:,} VENs are more than one run takes ({MAX_VENS_PER_RUN:,}); {_SPLIT_HINT}"
    rows = vens * (scenario.duration_s // scenario.report_interval_s)
    if rows > MAX_REPORTS_PER_RUN:
        return (f"{vens:,} VENs for {format_duration(scenario.duration_s)} at one report every "
                f"{format_duration(scenario.report_interval_s)} make {rows:,.0f} telemetry rows, "
                f"more than one run keeps ({MAX_REPORTS_PER_RUN:,}); shorten it, report less "
                f"often or {_SPLIT_HINT}")
    return None


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
    return [(path, f"{message} (got {show_value(got)}{hint})", "value")]


class _Loader:
    """Parses, validates and builds one file; any problem raises the first ScenarioError."""

    def __init__(self, source: str, text: str) -> None:
        self.source = source
        self.zone: tzinfo = UTC  # what a time without an offset means
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
        self._values = 0
        self.data = self._plain(self.root, ())

    def fail(self, path: Path, message: str, got: Any = ..., hint: str = "") -> NoReturn:
        if got is not ...:
            message += f" (got {show_value(got)}{'; ' + hint if hint else ''})"
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
        """ruamel's tree as plain JSON-like data, which is what jsonschema expects.

        Aliases are expanded here, so their count is bounded: 1.4 KB of nested aliases
        once expanded to 2 GB.
        """
        self._values += 1
        if self._values > MAX_SCENARIO_VALUES:
            self.fail(path, f"the file expands to over {MAX_SCENARIO_VALUES:,} values "
                      "(YAML aliases repeating aliases?)")
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
        return moment if moment.tzinfo else moment.replace(tzinfo=self.zone)

    def time_zone(self, name: str) -> tzinfo:
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            self.fail(("timezone",), "is not an IANA time zone name such as America/Chicago "
                      "or Europe/Berlin", name)

    def build(self) -> Scenario:
        d = self.data
        if not isinstance(d, dict):
            self.fail((), "a scenario must be a YAML mapping with keys such as name and fleet", d)
        self.check_schema()
        if "timezone" in d:  # naive times are then local, and the day runs on the local clock
            self.zone = self.time_zone(d["timezone"])
        start = self.when(("start",), d["start"], _ISO_HINT)
        if "timezone" in d:
            start = start.astimezone(self.zone)
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
        scenario = Scenario(
            name=d["name"], seed=int(d.get("seed", 0)), start=start, duration_s=duration,
            speed=speed if speed == "max" else float(speed),
            report_interval_s=report, physics_step_s=step,
            baseline_window_s=self.duration(("baseline_window",), d.get("baseline_window", 7200)),
            weather=self.weather(d["weather"]), fleet=fleet,
            events=self.events(d.get("events", []), start, duration, report, fleet),
            source=self.source, description=d.get("description", ""),
            mv=mv_spec(d.get("mv", {}), self.fail),
            faults=read_faults(self, d.get("faults", []), start, duration, fleet, _suggest),
            opt_out=OptOutSpec.from_dict(d.get("occupants")),
        )
        problem = size_problem(scenario)
        if problem is not None:
            biggest = max(range(len(fleet)), key=lambda i: fleet[i].count)
            self.fail(("fleet", biggest, "count"), problem)
        found = sorted((self._walk(path)[1], _field(path), message)
                       for path, message in sanity_warnings(d, scenario))
        warnings = tuple(f"{self.source}:{line}: {field}: {message}"
                         for line, field, message in found)
        return dataclasses.replace(scenario, warnings=warnings)

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
                return duration_seconds(text[1:])
            except ValueError:
                self.fail(path, _START_HINT, text)
        if match := _HHMM_RE.fullmatch(text):
            hour, minute, second = (int(part or 0) for part in match.groups())
            moment = start.replace(hour=hour, minute=minute, second=second, microsecond=0)
        else:
            moment = self.when(path, text, _START_HINT)
        # Epochs: `moment - start` in one zone is wall-clock time, an hour off across DST.
        return moment.timestamp() - start.timestamp()
