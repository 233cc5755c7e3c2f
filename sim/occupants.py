"""Occupants who override: the chance a household opts out of an event rises with discomfort.

Programs let a customer end their part in an event (a thermostat override); they do it more
the warmer the house gets. Each VEN in an event draws once per report interval from its own
stream, keyed by seed, VEN and event, so an opt-out never shifts any other random draw and a
run with an event removed stays an exact counterfactual. Over an interval the hazard is
`per_hour_at_1c` times the degree-hours the house spent warmer than its occupants' setpoint
(cooler, when heating; no tolerance, unlike `sim.comfort`'s violation count), and the chance
to opt out then is 1 - exp(-hazard). Off unless a scenario asks for it
(`occupants: {opt_out: {per_hour_at_1c: ...}}`).
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable
from dataclasses import dataclass
from statistics import median
from typing import Any


@dataclass(frozen=True)
class OptOutSpec:
    """The scenario's `occupants.opt_out` block."""

    per_hour_at_1c: float = 0.0  # opt-outs per hour at 1 C past the comfort line

    @classmethod
    def from_dict(cls, block: dict[str, Any] | None) -> OptOutSpec | None:
        opt_out = (block or {}).get("opt_out")
        if opt_out is None:
            return None
        return cls(float(opt_out.get("per_hour_at_1c", 0.0)))


def opt_out_chance(per_hour_at_1c: float, degree_minutes: float) -> float:
    """The chance to opt out over an interval with `degree_minutes` of discomfort."""
    return 1.0 - math.exp(-per_hour_at_1c * max(0.0, degree_minutes) / 60.0)


class Occupants:
    """One household's overrides: which of its running events it opts out of, and when."""

    def __init__(self, spec: OptOutSpec, seed: int, ven_id: str) -> None:
        self.spec = spec
        self._key = f"{seed}:{ven_id}:opt_out"
        self._streams: dict[str, random.Random] = {}
        self.opted_out: set[str] = set()  # event ids: a re-sent start does not rejoin them

    def decide(self, events: Iterable[Any], t: float, degree_minutes: float) -> list[str]:
        """The events (`sim.ven_events.ActiveEvent`) left after an interval of discomfort.

        Each event still running after `t` draws exactly once per interval, whatever the
        discomfort; those left are marked `opted_out`.
        """
        chance = opt_out_chance(self.spec.per_hour_at_1c, degree_minutes)
        leaving = []
        for event in events:
            event_id = event.event_id
            if event.end <= t + 1e-9:
                continue  # ends with this interval anyway
            stream = self._streams.get(event_id)
            if stream is None:
                stream = self._streams[event_id] = random.Random(f"{self._key}:{event_id}")
            if stream.random() < chance:
                leaving.append(event_id)
                event.opted_out = True
                self.opted_out.add(event_id)
        return leaving


def opt_out_summary(
    opt_outs: list[tuple[str, str, float]], event_id: str, vens: int
) -> dict[str, Any]:
    """`opt_outs` of summary.json for one event, from (ven id, event id, minutes into it)."""
    minutes = sorted(m for _, eid, m in opt_outs if eid == event_id)
    return {
        "count": len(minutes),
        "share": round(len(minutes) / vens, 3) if vens else 0.0,
        "minutes_into_event": [round(m, 1) for m in minutes],
        "minutes_into_event_p50": round(median(minutes), 1) if minutes else None,
    }
