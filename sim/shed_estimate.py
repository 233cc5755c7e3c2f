"""What a VEN believes it sheds, from its own circuits alone.

A real VEN cannot see M&V's baseline or the counterfactual. It knows what each circuit drew
while nobody curtailed it, and some devices forecast their own free draw: a thermostat from its
setpoint, its house model and the outdoor temperature (`Hvac.expected_kw`), an EV charger from
the plug-in time, the energy the car asked for and its rate (`EvCharger.expected_kw`). So, per
circuit, `natural_kw` is the device's forecast when it has one, and otherwise a running mean of
its draw over free readings (exponential, time constant 30 min), frozen from the circuit's
first curtailment in an event to its restore; `CircuitInfo.take` keeps it, inline, because it
runs for every reading.

During an event the VEN's estimate of its shed is, over the circuits it has curtailed in the
event (held now, or released and catching up), natural minus what they draw now: a released
water heater reheating, or a house cooling back down, counts against the shed. Circuits it has
not touched shed nothing by definition, so their noise (a PV cloud, a kettle) never enters the
loop. The estimate errs where a circuit's natural draw moves during the event without a
forecast (a water heater's showers, a dryer whose cycle would have ended), as a real VEN's
does; M&V reports it beside the truth as `ven_estimated_shed_kw`.
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
