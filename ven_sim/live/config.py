"""The optional YAML file of `ven-sim live --config`: what house the live VEN is.

```yaml
template: house            # house | heat_pump_home | apartment | solar_home
seed: 7
params: {hvac_setpoint_c: 23.5, has_ev: true}   # the scenario template params
report_interval_seconds: 5
weather: {min_c: 22, max_c: 35, peak_hour: 15, cloud_cover: 0.1}
```
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
from ruamel.yaml import YAML, YAMLError

from sim.models.house import TEMPLATES
from sim.world import Weather
from ven_sim.live.ven import LiveConfig

KEYS = {"template", "seed", "params", "report_interval_seconds", "weather"}


def load_live_config(path: str | None, *, thing_name: str, panel_amps: int) -> LiveConfig:
    config = LiveConfig(thing_name=thing_name, panel_amps=panel_amps)
    if path is None:
        return config
    try:
        doc: Any = YAML(typ="safe").load(Path(path).read_text())
    except (OSError, YAMLError) as exc:
        raise click.ClickException(f"{path}: {exc}") from None
    doc = doc or {}
    if not isinstance(doc, dict):
        raise click.ClickException(f"{path}: must be a mapping of {', '.join(sorted(KEYS))}")
    unknown = set(doc) - KEYS
    if unknown:
        raise click.ClickException(f"{path}: unknown key {sorted(unknown)[0]!r}")
    template = doc.get("template", config.template)
    if template not in TEMPLATES:
        raise click.ClickException(f"{path}: template must be one of {', '.join(TEMPLATES)}")
    config.template = template
    config.seed = int(doc.get("seed", 0))
    config.params = dict(doc.get("params") or {})
    config.report_interval_seconds = float(doc.get("report_interval_seconds", 5.0))
    if "weather" in doc:
        try:
            config.weather = Weather(**doc["weather"])
        except TypeError as exc:
            raise click.ClickException(f"{path}: weather: {exc}") from None
    return config
