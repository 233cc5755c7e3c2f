"""The optional YAML file of `ven-sim live --config`: what house the live VEN is.

```yaml
template: house            # house | heat_pump_home | apartment | solar_home
seed: 7
params: {hvac_setpoint_c: 23.5, has_ev: true}   # the scenario template params
report_interval_seconds: 5
weather: {min_c: 22, max_c: 35, peak_hour: 15, cloud_cover: 0.1}
```

A problem is one line in the scenario files' form, `file:line: field: what (got X)`,
with a suggestion for a misspelt key or template.
"""

from __future__ import annotations

import difflib
import math
from pathlib import Path
from typing import Any

import click
from ruamel.yaml import YAML, YAMLError
from ruamel.yaml.comments import CommentedMap

from sim.models.house import TEMPLATE_PARAMS, TEMPLATES, resolve_params
from sim.scenario import ScenarioError
from sim.world import Weather
from ven_sim.live.ven import TICK_S, LiveConfig

KEYS = ("template", "seed", "params", "report_interval_seconds", "weather")
WEATHER_KEYS = ("min_c", "max_c", "peak_hour", "cloud_cover")
MAX_REPORT_INTERVAL_S = 3600.0  # beyond an hour the backend would call the VEN silent


def _close(word: str, options: tuple[str, ...] | list[str]) -> str:
    match = difflib.get_close_matches(str(word), list(options), n=1)
    return f"did you mean {match[0]}?" if match else "allowed: " + ", ".join(options)


class _File:
    """One config file: raises the first problem as a ScenarioError-shaped line."""

    def __init__(self, path: str) -> None:
        self.path = path

    def fail(self, node: Any, key: Any, field: str, message: str) -> click.ClickException:
        line = None
        if isinstance(node, CommentedMap) and key in node:
            line = node.lc.key(key)[0] + 1
        return click.ClickException(str(ScenarioError(self.path, line, field, message)))

    def mapping(self, node: Any, key: Any, field: str, allowed: tuple[str, ...]) -> dict:
        value = node[key] if key is not None else node
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise self.fail(node, key, field, f"must be a mapping (got {value!r})")
        for name in value:
            if name not in allowed:
                where = f"{field}.{name}" if field else str(name)
                raise self.fail(value, name, where, f"unknown key ({_close(name, allowed)})")
        return value

    def number(self, node: Any, key: str, field: str, low: float, high: float) -> float:
        value = node[key]
        if isinstance(value, bool) or not isinstance(value, int | float) or not (
            math.isfinite(value) and low <= value <= high
        ):
            raise self.fail(node, key, field, f"must be a number {low:g}-{high:g} (got {value!r})")
        return float(value)


def load_live_config(path: str | None, *, thing_name: str, panel_amps: int) -> LiveConfig:
    config = LiveConfig(thing_name=thing_name, panel_amps=panel_amps)
    if path is None:
        return config
    file = _File(path)
    if not Path(path).is_file():  # a FIFO or device would block the read below
        raise click.ClickException(f"{path}: not a regular file")
    try:
        doc: Any = YAML(typ="rt").load(Path(path).read_text())
    except (OSError, UnicodeDecodeError) as exc:
        raise click.ClickException(f"{path}: cannot read: {exc}") from None
    except YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else path
        raise click.ClickException(
            f"{where}: not valid YAML: {getattr(exc, 'problem', exc)}"
        ) from None
    if doc is None:
        return config
    if not isinstance(doc, dict):
        raise click.ClickException(f"{path}: must be a mapping of {', '.join(KEYS)}")
    file.mapping(doc, None, "", KEYS)
    if "template" in doc:
        template = doc["template"]
        if template not in TEMPLATES:
            hint = _close(str(template), list(TEMPLATES))
            raise file.fail(doc, "template", "template",
                            f"must be one of {', '.join(TEMPLATES)} (got {template!r}; {hint})")
        config.template = template
    if "seed" in doc:
        if isinstance(doc["seed"], bool) or not isinstance(doc["seed"], int):
            raise file.fail(doc, "seed", "seed", f"must be a whole number (got {doc['seed']!r})")
        config.seed = doc["seed"]
    if "params" in doc:
        params = dict(file.mapping(doc, "params", "params", tuple(TEMPLATE_PARAMS)))
        for name, value in params.items():
            try:
                resolve_params(config.template, {name: value})
            except ValueError as exc:
                raise file.fail(doc["params"], name, f"params.{name}", str(exc)) from None
        config.params = params
    if "report_interval_seconds" in doc:
        # The live VEN ticks once a second: a shorter interval cannot be kept (and 0 never).
        config.report_interval_seconds = file.number(
            doc, "report_interval_seconds", "report_interval_seconds", TICK_S,
            MAX_REPORT_INTERVAL_S,
        )
    if "weather" in doc:
        weather = file.mapping(doc, "weather", "weather", WEATHER_KEYS)
        for name in ("min_c", "max_c"):
            if name not in weather:
                raise file.fail(doc, "weather", f"weather.{name}", "required key is missing")
        values = {name: file.number(weather, name, f"weather.{name}", -60, 60)
                  for name in weather if name in ("min_c", "max_c")}
        if "peak_hour" in weather:
            values["peak_hour"] = file.number(weather, "peak_hour", "weather.peak_hour", 0, 24)
        if "cloud_cover" in weather:
            values["cloud_cover"] = file.number(weather, "cloud_cover", "weather.cloud_cover",
                                                0, 1)
        config.weather = Weather(**values)
    return config
