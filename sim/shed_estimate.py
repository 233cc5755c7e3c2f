"""What a VEN believes it sheds, from its own circuits alone.

A real VEN cannot see M&V's baseline or the counterfactual; it knows what each of its circuits
drew while nobody curtailed it. So, per circuit, `natural_kw` is a running mean of its draw over
uncurtailed readings (exponential, time constant about an hour), frozen while the circuit is
held; during an event the VEN's estimate of its shed is, over the circuits it holds, natural
minus what they draw now. Circuits it does not hold shed nothing by definition, so their noise
(a PV cloud, a kettle) never enters the loop. The estimate errs where a circuit's natural draw
moves during the event (HVAC on a warming afternoon), as a real VEN's does; M&V reports it
beside the truth as `ven_estimated_shed_kw`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from sim.records import CircuitReading

NATURAL_TAU_S = 3600.0


@dataclass(slots=True)
class ShedEstimator:
    tau_s: float = NATURAL_TAU_S
    natural_kw: dict[str, float] = field(default_factory=dict)
    held: dict[str, bool] = field(default_factory=dict)
    _t: dict[str, float] = field(default_factory=dict)

    def observe(self, reading: CircuitReading) -> None:
        """Learn from one reading; a circuit held back says nothing of its natural draw."""
        cid = reading.circuit_id
        t0 = self._t.get(cid)
        self._t[cid] = reading.t
        held = reading.shed_request_kw > 0.0
        self.held[cid] = held
        if held:
            return
        previous = self.natural_kw.get(cid)
        if previous is None or t0 is None:
            self.natural_kw[cid] = reading.power_kw
            return
        weight = min(1.0, (reading.t - t0) / self.tau_s)
        self.natural_kw[cid] = previous + weight * (reading.power_kw - previous)

    def shed_kw(self, draws: Iterable[tuple[str, float]]) -> float:
        """Estimated kW shed now, over (circuit id, kW drawn now) pairs."""
        natural = self.natural_kw
        held = self.held
        return sum(natural.get(cid, kw) - kw for cid, kw in draws if held.get(cid))
