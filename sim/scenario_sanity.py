"""Warnings for scenario values that are valid but probably a unit mistake.

A scenario that asks 24 homes for 30000 kW (watts typed as kW), a 97 C afternoon (Fahrenheit)
or an event lasting `duration: 2` (two seconds, meant as hours) loads fine and then runs a
meaningless simulation. These checks run after the loader has accepted the file and return
the path and message of each suspicious value; the loader turns them into
`file:line: field: message` lines on `Scenario.warnings`, which `validate` and `run` print.
"""

from __future__ import annotations

from typing import Any

from sim.models.base import KW_PER_BREAKER_AMP
from sim.models.house import TEMPLATES
from sim.scenario import Scenario

__all__ = ["TEMPERATURE_RANGE_C", "sanity_warnings"]

TEMPERATURE_RANGE_C = (-40.0, 55.0)  # outdoor records and any thermostat fall inside
_FAR_ABOVE = 1.0  # a request above every targeted panel's full rating together

Path = tuple[str | int, ...]


def sanity_warnings(data: dict, scenario: Scenario) -> list[tuple[Path, str]]:
    """(path, message) of each suspicious value in the parsed file `data` of `scenario`."""
    return _temperatures(data) + _bare_durations(data) + _requests(scenario)


def _numbers(spec: Any) -> list[float]:
    """Every number a template parameter spec can take (value, min/max or choices)."""
    if isinstance(spec, dict):
        values = spec.get("choice", [spec.get("min"), spec.get("max")])
    else:
        values = [spec]
    return [float(v) for v in values if isinstance(v, int | float) and not isinstance(v, bool)]


def _temperatures(data: dict) -> list[tuple[Path, str]]:
    low, high = TEMPERATURE_RANGE_C
    candidates: list[tuple[Path, list[float]]] = []
    weather = data.get("weather", {})
    for key in ("min_c", "max_c"):
        if key in weather:
            candidates.append((("weather", key), _numbers(weather[key])))
    for i, point in enumerate(weather.get("points", [])):
        candidates.append((("weather", "points", i), _numbers(point[1])))
    for i, group in enumerate(data.get("fleet", [])):
        for key, spec in group.get("params", {}).items():
            if key.endswith("_c") and key != "comfort_band_c":
                candidates.append((("fleet", i, "params", key), _numbers(spec)))
    out = []
    for path, values in candidates:
        odd = [v for v in values if not low <= v <= high]
        if odd:
            out.append((path, f"{odd[0]:g} C is outside {low:g}..{high:g} C: a temperature in "
                              "Fahrenheit? Temperatures are in Celsius"))
    return out


def _bare_durations(data: dict) -> list[tuple[Path, str]]:
    paths: list[Path] = [("duration",), ("baseline_window",)]
    paths += [("events", i, "duration") for i in range(len(data.get("events", [])))]
    out = []
    for path in paths:
        node: Any = data
        for key in path:
            node = node.get(key) if isinstance(node, dict) else node[key]
            if node is None:
                break
        if isinstance(node, int | float) and not isinstance(node, bool) and 0 < node < 3600:
            out.append((path, f"{node:g} without a unit is {node:g} seconds: write {node:g}h or "
                              f"{node:g}m if that is what you meant"))
    return out


def _requests(scenario: Scenario) -> list[tuple[Path, str]]:
    panel_kw = {}
    for group in scenario.fleet:
        amps = _numbers(group.params.get("panel_amps", TEMPLATES[group.template]["panel_amps"]))
        panel_kw[group.name] = (group.count, max(amps) * KW_PER_BREAKER_AMP)
    out = []
    for i, event in enumerate(scenario.events):
        targeted = [v for k, v in panel_kw.items() if event.target in ("all", k)]
        total = sum(count * kw for count, kw in targeted)
        if event.requested_kw is not None and event.requested_kw > _FAR_ABOVE * total:
            out.append((("events", i, "requested_kw"),
                        f"{event.requested_kw:g} kW is more than all {sum(c for c, _ in targeted)}"
                        f" targeted panels can carry ({total:g} kW): watts typed as kW?"))
        largest = max((kw for _, kw in targeted), default=0.0)
        if event.per_ven_kw is not None and event.per_ven_kw > _FAR_ABOVE * largest:
            out.append((("events", i, "per_ven_kw"),
                        f"{event.per_ven_kw:g} kW per VEN is more than a whole panel carries "
                        f"({largest:g} kW): watts typed as kW?"))
    return out
