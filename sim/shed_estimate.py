"""What a VEN believes it sheds, from its own circuits alone.

A real VEN cannot see M&V's baseline or the counterfactual; it knows what each of its circuits
drew while nobody curtailed it. So, per circuit, `natural_kw` is a running mean of its draw over
uncurtailed readings (exponential, time constant 30 min), frozen while the circuit is held;
`CircuitInfo.update` keeps it, inline, because it runs for every reading. During an event the
VEN's estimate of its shed is, over the circuits it holds, natural minus what they draw now.
Circuits it does not hold shed nothing by definition, so their noise (a PV cloud, a kettle)
never enters the loop. The estimate errs where a circuit's natural draw moves during the event
(HVAC on a warming afternoon), as a real VEN's does; M&V reports it beside the truth as
`ven_estimated_shed_kw`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

NATURAL_TAU_S = 1800.0  # time constant of the running mean of a free circuit's draw (docs/mv.md)


class Metered(Protocol):
    """A circuit as the VEN sees it (`sim.curtailment.CircuitInfo`, which keeps the mean)."""

    power_kw: float
    natural_kw: float | None
    engaged: bool


def estimated_shed_kw(circuits: Iterable[Metered]) -> float:
    """The VEN's estimate of what it sheds now: natural minus actual over the circuits curtailed
    in this event, held or released (a released one catching up counts against the shed)."""
    return sum(
        (c.power_kw if c.natural_kw is None else c.natural_kw) - c.power_kw
        for c in circuits
        if c.engaged
    )
