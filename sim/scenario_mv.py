"""The scenario's `mv:` block, read and checked (docs/mv.md): a part of `sim.scenario_loader`."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any, NoReturn

from sim.limits import RESTORE_WINDOW_S_MAX
from sim.scenario import MvSpec, duration_seconds, format_duration

Fail = Callable[..., NoReturn]  # ScenarioLoader.fail: (path, message, got) -> file:line error


def mv_spec(m: dict[str, Any], fail: Fail) -> MvSpec:
    holidays = []
    for i, text in enumerate(m.get("holidays", [])):
        try:
            holidays.append(date.fromisoformat(str(text)))
        except ValueError:
            fail(("mv", "holidays", i), "must be a date such as 2026-07-04", text)
    window = MvSpec.restore_window
    if "restore_window" in m:
        window = _restore_window(m["restore_window"], fail)
    return MvSpec(m.get("settlement", "pre_window"), int(m.get("warmup_days", 0)),
                  tuple(holidays), float(m.get("caiso_cap", 0.2)),
                  float(m.get("control_share", 0.0)), window)


def _restore_window(value: list[Any], fail: Fail) -> tuple[float, float]:
    """`[shortest, longest]`: each VEN spreads its restores over a span drawn between the two."""
    seconds = []
    for i, item in enumerate(value):  # the schema has checked: two durations
        path = ("mv", "restore_window", i)
        try:
            seconds.append(duration_seconds(item))
        except ValueError as exc:
            fail(path, str(exc))
        if seconds[-1] > RESTORE_WINDOW_S_MAX:
            fail(path, f"must be at most {format_duration(RESTORE_WINDOW_S_MAX)}", item)
    if seconds[0] > seconds[1]:
        fail(("mv", "restore_window", 1), "must not be shorter than the first "
             f"({format_duration(seconds[0])})", value[1])
    return seconds[0], seconds[1]
