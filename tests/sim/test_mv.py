"""M&V per event: the control-group baseline, by hand, beside the others."""

from __future__ import annotations

import pytest

from sim.fleetlog import Row
from sim.mv import EventWindow, control_mean_kw, evaluate_event


def _row(ven: str, t0: float, kw: float, cf: float | None = None) -> Row:
    return Row(t0, t0 + 1800.0, ven, kw, kw, 0.0, 0.0, None, 0.0, 0.0, None, cf,
               None if cf is None else 0.0, (0.0, 0.0), None if cf is None else (0.0, 0.0))


def test_control_group_baseline_is_the_holdouts_mean_per_ven() -> None:
    # One hour event at t=3600; dispatched VENs a and b, control VENs c1 and c2.
    event = EventWindow("e", 3600.0, 7200.0, ("a", "b"), 4.0, control=("c1", "c2"))
    rows = []
    for t0 in (0.0, 1800.0, 3600.0, 5400.0):
        inside = t0 >= 3600.0
        rows += [
            _row("c1", t0, 2.0),
            _row("c2", t0, 4.0 if inside else 3.0),
            _row("a", t0, 1.0 if inside else 3.0, cf=3.5 if inside else None),
            _row("b", t0, 0.5 if inside else 3.0, cf=2.5 if inside else None),
        ]
    assert control_mean_kw(event, rows) == pytest.approx(3.0)  # (2 + 4) / 2 over the event
    result = evaluate_event(event, rows)
    method = result["baselines"]["control_group"]
    # Each dispatched VEN's baseline is 3 kW: 6 kW for two; they drew 1.5, so 4.5 delivered.
    assert method["baseline_kw"] == pytest.approx(6.0)
    assert method["delivered_kw"] == pytest.approx(4.5)
    assert method["delivery_ratio"] == pytest.approx(4.5 / 4.0)
    # The counterfactual says 6 kW would have been drawn: the control group was right.
    assert result["counterfactual_kw"] == pytest.approx(6.0)
    assert method["error_kw"] == pytest.approx(0.0)
    assert result["true_delivered_kw"] == pytest.approx(4.5)


def test_no_control_group_no_figure() -> None:
    event = EventWindow("e", 3600.0, 7200.0, ("a",), 1.0)
    rows = [_row("a", t0, 1.0) for t0 in (0.0, 1800.0, 3600.0, 5400.0)]
    assert control_mean_kw(event, rows) is None
    assert evaluate_event(event, rows)["baselines"]["control_group"]["baseline_kw"] is None
