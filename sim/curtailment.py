"""How a VEN meets a requested reduction with the circuits it has.

Pure logic, no actors: the controller actor feeds it readings and applies the
allocations it returns. The plan:

* shed by priority (highest number first, 1 sheds last), ties by circuit id;
* a circuit gives at most its shed capability, and a critical circuit never
  more than takes it down to its floor;
* locked-out and disabled circuits give nothing, and the rest cover for them;
* closed loop: each interval the shortfall against (baseline - actual) is
  integrated, so natural drift (an EV arriving, HVAC duty rising) is met;
* restoring is staggered so a fleet does not switch everything back on in the same second:
  one circuit per `stagger_s` after a per-VEN delay, or (with a restore window, as scenario
  runs have) each circuit at its own random delay within a span each VEN draws.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass
from operator import attrgetter
from typing import Any

from sim.contract import CircuitAckRow, circuit_ack_row
from sim.records import CircuitReading
from sim.shed_estimate import NATURAL_TAU_S


@dataclass(slots=True)
class CircuitInfo:
    """What the planner knows of a circuit: static facts plus the latest reading."""

    id: str
    name: str
    breaker_amps: int
    critical: bool
    priority: int
    enabled: bool = True
    power_kw: float = 0.0
    capability_kw: float = 0.0
    floor_kw: float = 0.0
    locked_out: bool = False
    # The VEN's own estimate of what the circuit draws when left alone (sim.shed_estimate).
    natural_kw: float | None = None
    held: bool = False  # curtailed over the last reading
    # Curtailed at some point in the current event: released, it still pays the shed back.
    engaged: bool = False
    seen_t: float | None = None

    def headroom_kw(self) -> float:
        """What may be shed now: nothing when off or locked out, a critical load to its floor."""
        if not self.enabled or self.locked_out:
            return 0.0
        capability = self.capability_kw
        # Comparisons rather than min()/max() (the same results; `take` makes them inline for
        # the reading it takes).
        if self.critical:
            above_floor = self.power_kw - self.floor_kw
            above_floor = above_floor if above_floor > 0.0 else 0.0
            if above_floor < capability:
                capability = above_floor
        return capability if capability > 0.0 else 0.0

    def update(self, reading: CircuitReading) -> None:
        self.take(reading.t, reading.power_kw, reading.shed_capability_kw, reading.floor_kw,
                  reading.locked_out, reading.shed_request_kw, reading.expected_kw)

    def take(
        self,
        t: float,
        power: float,
        capability: float,
        floor: float,
        locked_out: bool,
        shed_request_kw: float,
        expected_kw: float | None,
    ) -> float:
        """`update` from a reading's fields, as the controller unpacks them once: this runs
        for every circuit on every interval. Returns `headroom_kw()` after the reading, for the
        interval's telemetry: the same comparisons inline, as a call costs more than them."""
        self.power_kw = power
        self.capability_kw = capability
        self.floor_kw = floor
        self.locked_out = locked_out
        # Inline, not a call.
        seen, self.seen_t = self.seen_t, t
        if shed_request_kw > 0.0:
            self.held = self.engaged = True
        else:
            self.held = False
        if expected_kw is not None:  # the device forecasts its own free draw (sim.shed_estimate)
            self.natural_kw = expected_kw
        elif not self.engaged:  # held, or catching up since: it says nothing of its natural draw
            natural = self.natural_kw
            if natural is None or seen is None:
                self.natural_kw = power
            else:
                weight = (t - seen) / NATURAL_TAU_S
                self.natural_kw = natural + (weight if weight < 1.0 else 1.0) * (power - natural)
        if not self.enabled or locked_out:
            return 0.0
        if self.critical:
            above_floor = power - floor
            above_floor = above_floor if above_floor > 0.0 else 0.0
            if above_floor < capability:
                capability = above_floor
        return capability if capability > 0.0 else 0.0


@dataclass(slots=True)
class Curtailment:
    """One circuit's part in an event, as reported in the event ack."""

    id: str
    name: str
    breaker_amps: int
    critical: bool
    original_kw: float
    curtailed_kw: float = 0.0

    def as_ack(self) -> CircuitAckRow:
        """Its row in the event ack, in the wire's form (so the ack need not redo it)."""
        return circuit_ack_row(self.id, self.name, self.breaker_amps, self.original_kw,
                               self.curtailed_kw, self.critical)


class ShedPlanner:
    """Allocates a VEN's target reduction over its circuits, interval by interval."""

    def __init__(self, gain: float = 0.6) -> None:
        self.gain = gain
        self.target_kw = 0.0
        self.correction_kw = 0.0
        self.snapshot: dict[str, Curtailment] = {}
        self._capability: dict[str, float] = {}

    @property
    def active(self) -> bool:
        return bool(self.snapshot)

    def start(self, target_kw: float, circuits: list[CircuitInfo]) -> dict[str, float]:
        """Begin shedding `target_kw`; returns kW to shed per circuit id."""
        self.target_kw = max(0.0, target_kw)
        self.correction_kw = 0.0
        self.snapshot = {
            c.id: Curtailment(c.id, c.name, c.breaker_amps, c.critical, c.power_kw)
            for c in circuits
        }
        # Capability is measured before shedding: once a circuit is curtailed
        # its own reading understates what it is holding back.
        self._capability = {c.id: c.headroom_kw() for c in circuits}
        return self._allocate(circuits)

    def retarget(self, target_kw: float, circuits: list[CircuitInfo]) -> dict[str, float]:
        """Change the target mid-event (another event started or one ended)."""
        self.target_kw = max(0.0, target_kw)
        return self._allocate(circuits)

    def update(self, delivered_kw: float, circuits: list[CircuitInfo]) -> dict[str, float]:
        """Close the loop on what the meter says was delivered last interval."""
        capacity = sum(self._capability.values())
        error = self.target_kw - delivered_kw
        self.correction_kw = min(
            max(self.correction_kw + self.gain * error, -self.target_kw), capacity
        )
        for c in circuits:
            if not c.locked_out:
                self._capability[c.id] = max(self._capability.get(c.id, 0.0), c.headroom_kw())
        return self._allocate(circuits)

    def stop(self) -> list[str]:
        """End shedding; returns the circuit ids to restore (any order)."""
        ids = sorted(self.snapshot)
        self.snapshot = {}
        self._capability = {}
        self.target_kw = self.correction_kw = 0.0
        return ids

    def acks(self) -> list[CircuitAckRow]:
        return [c.as_ack() for c in self.snapshot.values()]

    def shed_total_kw(self) -> float:
        return sum(c.curtailed_kw for c in self.snapshot.values())

    def _allocate(self, circuits: list[CircuitInfo]) -> dict[str, float]:
        remaining = max(0.0, self.target_kw + self.correction_kw)
        plan: dict[str, float] = {}
        capability, snapshot = self._capability, self.snapshot
        for c in _shed_order(circuits):
            cid = c.id
            usable = 0.0 if (c.locked_out or not c.enabled) else capability.get(cid, 0.0)
            share = remaining if remaining < usable else usable  # min(usable, remaining)
            remaining -= share
            plan[cid] = share
            entry = snapshot.get(cid)
            if entry is not None:
                entry.curtailed_kw = share
        return plan


_BY_ID, _BY_PRIORITY = attrgetter("id"), attrgetter("priority")


def _shed_order(circuits: list[CircuitInfo]) -> list[CircuitInfo]:
    """Highest priority number first, ties by id: sorted by (-priority, id), as two stable
    sorts whose keys are read in C (a lambda's call for each circuit cost more)."""
    return sorted(sorted(circuits, key=_BY_ID), key=_BY_PRIORITY, reverse=True)


def restore_schedule(
    circuit_ids: list[str], at: float, delay_s: float, stagger_s: float
) -> list[tuple[float, str]]:
    """When to restore each circuit: one per `stagger_s` after `delay_s`."""
    return [(at + delay_s + i * stagger_s, cid) for i, cid in enumerate(circuit_ids)]


def restore_plan(
    circuit_ids: list[str],
    at: float,
    rng: random.Random,
    stagger_s: float,
    window: tuple[float, float] | None,
) -> list[tuple[float, str]]:
    """When to restore each circuit of an event that ended at `at`, in `circuit_ids` order.

    Without a window: one per `stagger_s` after a delay drawn in [0, stagger_s). With one,
    `(shortest, longest)`: the VEN draws its span between the two, and each circuit comes back
    at its own delay drawn in [0, span], the earliest delay going to the first circuit.
    """
    if window is None:
        return restore_schedule(circuit_ids, at, rng.uniform(0.0, stagger_s), stagger_s)
    span = rng.uniform(*window)
    delays = sorted(rng.uniform(0.0, span) for _ in circuit_ids)
    return [(at + delay, cid) for delay, cid in zip(delays, circuit_ids, strict=True)]


def load_rows(
    circuits: Iterable[CircuitInfo],
    plan: dict[str, Curtailment],
    extras: dict[str, dict[str, Any]],
) -> tuple[dict[str, Any], ...]:
    """One row per circuit for a VEN's telemetry (`loads`): its facts, its reading, its part
    in the current plan and its live state (indoor temperature, state of charge)."""
    rows = []
    # A row's extras joined only where there are some (most circuits have none): the same
    # keys in the same order as unpacking them last into the row's literal.
    for c in circuits:
        cid = c.id
        entry = plan.get(cid)
        row = {
            "id": cid,
            "name": c.name,
            "breaker_amps": c.breaker_amps,
            "critical": c.critical,
            "priority": c.priority,
            "enabled": c.enabled,
            "power_kw": c.power_kw,
            "shed_capability_kw": c.headroom_kw(),
            "curtailed_kw": entry.curtailed_kw if entry else 0.0,
        }
        extra = extras.get(cid)
        if extra:
            row.update(extra)
        rows.append(row)
    return tuple(rows)
