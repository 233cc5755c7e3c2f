"""Fleet scenario files for `ven-sim fleet FILE.yaml`: a load test written down (pure parsing).

    name: fleet_10k
    fleet: {vens: 10000, id_prefix: ven-load, ramp: 250, duration: 10m, telemetry_interval: 5s,
            vens_per_cert: 1}       # optional: VENs sharing one certificate (default 1)
    events:                       # DR events to every connected VEN, on the run's real clock
      - {at: connected, kw: 0.5, duration: 5m}    # once every VEN is up
      - {at: +6m, kw: 1.0, duration: 2m}         # six minutes after the first connect

Problems are reported as the scenario loader reports them, one `file:line: field: message`
line (sim.scenario.ScenarioError). Running the file is ven_sim.fleet's job.
"""

from __future__ import annotations

import difflib
import os
from dataclasses import dataclass
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import YAMLError

from sim.scenario import (
    ScenarioError,
    duration_seconds,
    parse_duration,
    read_scenario_text,
    show_value,
)

__all__ = ["ALL_CONNECTED", "FleetEvent", "FleetScenario", "load_fleet_scenario"]

ALL_CONNECTED = "connected"  # `at:` meaning "once every VEN is connected"
FLEET_DEFAULTS: dict[str, Any] = {"id_prefix": "ven-load", "id_start": 0, "ramp": 100.0,
                                  "duration": 300.0, "telemetry_interval": 5.0, "probe_rate": 2.0,
                                  "vens_per_cert": 1}
TOP_KEYS = ("name", "fleet", "events")
FLEET_KEYS = ("vens", *FLEET_DEFAULTS)
EVENT_KEYS = ("id", "at", "kw", "duration")


@dataclass(frozen=True)
class FleetEvent:
    """One DR event sent to every connected VEN: at `at_s` seconds from the first connect, or
    once all are connected (`at_s` None); each VEN's ack is timed from the dispatch."""

    id: str
    at_s: float | None
    kw: float
    duration_s: float


@dataclass(frozen=True)
class FleetScenario:
    name: str
    vens: int
    id_prefix: str
    id_start: int
    ramp_per_s: float
    duration_s: float
    telemetry_interval_s: float
    probe_rate: float
    events: tuple[FleetEvent, ...]
    file: str
    lines: dict[str, int]  # field path -> line, for errors found later (an ID prefix)
    vens_per_cert: int = 1  # VENs sharing one certificate: runs of N from id_start


def load_fleet_scenario(path: str | os.PathLike) -> FleetScenario:
    source = os.fspath(path)
    return _Reader(source).read(read_scenario_text(source))


class _Reader:
    def __init__(self, file: str) -> None:
        self.file = file
        self.lines: dict[str, int] = {}

    def fail(self, line: int | None, field: str, message: str) -> ScenarioError:
        return ScenarioError(self.file, line, field, message)

    def read(self, text: str) -> FleetScenario:
        try:
            doc = YAML(typ="rt").load(text)
        except YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            line = None if mark is None else mark.line + 1
            raise self.fail(line, "", f"not valid YAML: {getattr(exc, 'problem', exc)}") from None
        top = self.mapping(doc, "", 1, TOP_KEYS)
        if "fleet" not in top:
            raise self.fail(1, "fleet", "missing: the fleet to run (vens: N at least)")
        fleet = self.mapping(top["fleet"], "fleet", self.line_of(top, "fleet"), FLEET_KEYS)
        if "vens" not in fleet:
            raise self.fail(self.line_of(top, "fleet"), "fleet.vens", "missing: how many VENs")
        values = {**FLEET_DEFAULTS, **fleet}
        duration_s = self.seconds(fleet, "fleet", "duration", values["duration"])
        return FleetScenario(
            name=str(top.get("name") or os.path.splitext(os.path.basename(self.file))[0]),
            vens=self.whole(fleet, "fleet", "vens", values["vens"], minimum=1),
            id_prefix=self.text(fleet, "fleet", "id_prefix", values["id_prefix"]),
            id_start=self.whole(fleet, "fleet", "id_start", values["id_start"], minimum=0),
            ramp_per_s=self.number(fleet, "fleet", "ramp", values["ramp"]),
            duration_s=duration_s,
            telemetry_interval_s=self.seconds(fleet, "fleet", "telemetry_interval",
                                              values["telemetry_interval"]),
            probe_rate=self.number(fleet, "fleet", "probe_rate", values["probe_rate"],
                                   allow_zero=True),
            events=self.events(top, duration_s),
            file=self.file,
            lines=self.lines,
            vens_per_cert=self.whole(fleet, "fleet", "vens_per_cert", values["vens_per_cert"],
                                     minimum=1),
        )

    def line_of(self, node: Any, key: str | int) -> int | None:
        if isinstance(node, CommentedMap) and key in node:
            return node.lc.key(key)[0] + 1
        if isinstance(node, CommentedSeq) and isinstance(key, int):
            return node.lc.item(key)[0] + 1
        return None

    def mapping(self, node: Any, field: str, line: int | None,
                keys: tuple[str, ...]) -> CommentedMap:
        if not isinstance(node, CommentedMap):
            raise self.fail(line, field, f"must be a mapping (got {show_value(node)})")
        for key in node:
            if key not in keys:
                close = difflib.get_close_matches(str(key), keys, n=1)
                hint = f"; did you mean {close[0]!r}?" if close else f"; one of {', '.join(keys)}"
                name = f"{field}.{key}" if field else str(key)
                raise self.fail(self.line_of(node, key), name, f"unknown key{hint}")
        for key in node:
            self.lines[f"{field}.{key}" if field else str(key)] = self.line_of(node, key) or 1
        return node

    def number(self, node: CommentedMap, field: str, key: str, value: Any, *,
               allow_zero: bool = False) -> float:
        ok = isinstance(value, int | float) and not isinstance(value, bool) and (
            value > 0 or (allow_zero and value == 0))
        if not ok:
            wanted = "a number >= 0" if allow_zero else "a positive number"
            raise self.fail(self.line_of(node, key), f"{field}.{key}",
                            f"must be {wanted} (got {show_value(value)})")
        return float(value)

    def whole(self, node: CommentedMap, field: str, key: str, value: Any, *,
              minimum: int) -> int:
        if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
            raise self.fail(self.line_of(node, key), f"{field}.{key}",
                            f"must be a whole number >= {minimum} (got {show_value(value)})")
        return value

    def text(self, node: CommentedMap, field: str, key: str, value: Any) -> str:
        if not isinstance(value, str) or not value:
            raise self.fail(self.line_of(node, key), f"{field}.{key}",
                            f"must be text (got {show_value(value)})")
        return value

    def seconds(self, node: CommentedMap, field: str, key: str, value: Any) -> float:
        try:
            return parse_duration(value)
        except ValueError as exc:
            raise self.fail(self.line_of(node, key), f"{field}.{key}", str(exc)) from None

    def events(self, top: CommentedMap, duration_s: float) -> tuple[FleetEvent, ...]:
        items = top.get("events")
        if items is None:
            return ()
        if not isinstance(items, CommentedSeq):
            raise self.fail(self.line_of(top, "events"), "events",
                            f"must be a list (got {show_value(items)})")
        events, ids = [], set()
        for n, item in enumerate(items):
            field = f"events[{n}]"
            event = self.mapping(item, field, self.line_of(items, n), EVENT_KEYS)
            for key in ("at", "kw", "duration"):
                if key not in event:
                    raise self.fail(self.line_of(items, n), f"{field}.{key}", "missing")
            event_id = self.text(event, field, "id", event.get("id", f"fleet-event-{n + 1}"))
            if event_id in ids:
                raise self.fail(self.line_of(event, "id"), f"{field}.id",
                                f"{event_id!r} is used twice")
            ids.add(event_id)
            at_s = self.offset(event, field, duration_s)
            events.append(FleetEvent(event_id, at_s, self.number(event, field, "kw", event["kw"]),
                                     self.seconds(event, field, "duration", event["duration"])))
        return tuple(events)

    def offset(self, event: CommentedMap, field: str, duration_s: float) -> float | None:
        value, line = event["at"], self.line_of(event, "at")
        if value == ALL_CONNECTED:
            return None
        try:
            text = value.strip().removeprefix("+") if isinstance(value, str) else value
            at_s = duration_seconds(text)
        except ValueError:
            raise self.fail(line, f"{field}.at", f'must be "{ALL_CONNECTED}" or an offset from '
                            f"the first connect such as +2m (got {show_value(value)})") from None
        if not 0 <= at_s < duration_s:
            raise self.fail(line, f"{field}.at", f"must fall inside the run's {duration_s:g} s "
                            f"(got {show_value(value)})")
        return at_s
