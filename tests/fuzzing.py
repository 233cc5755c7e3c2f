"""Hypothesis strategies for hostile JSON, shared by the fuzz tests of commands, shadows and
scenarios. Settings are derandomized, so a run is the same every time (no luck in CI)."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from sim.commands import OPS

FUZZ = settings(derandomize=True, deadline=None, database=None, max_examples=150,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

# Numbers a hostile sender picks: edges, overflows, huge ints and ordinary values.
numbers = st.one_of(
    st.sampled_from([0, -1, 1e308, -1e308, 2**70, 10**300, 1e-320, 0.001, 5, 86401, 1001]),
    st.integers(), st.floats(allow_nan=False, allow_infinity=False),
)
scalars = st.one_of(st.none(), st.booleans(), numbers, st.text(max_size=40),
                    st.sampled_from(["x" * 5000, "\\" * 3000, "\u0085" * 3000]))
json_values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4),
                            st.dictionaries(st.text(max_size=8), inner, max_size=4)),
    max_leaves=12,
)
FIELDS = ["event_id", "requestedReductionKw", "duration_s", "durationS", "loadId", "reduceKw",
          "enabled", "capacityKw", "priority", "what", "report_interval_seconds"]
data_objects = st.dictionaries(st.sampled_from(FIELDS) | st.text(max_size=6), json_values,
                               max_size=6)


@st.composite
def command_objects(draw: st.DrawFn, ven_id: str) -> dict[str, Any]:
    """A command close enough to a real one to reach the op parsers, then broken somewhere."""
    obj: dict[str, Any] = {
        "op": draw(st.sampled_from(sorted(OPS)) | st.text(max_size=10)),
        "correlationId": draw(st.text(min_size=1, max_size=12) | scalars),
        "data": draw(data_objects | json_values),
    }
    if draw(st.booleans()):
        obj["venId"] = draw(st.just(ven_id) | scalars)
    for key in draw(st.lists(st.sampled_from(["event_id", "shed_kw", "duration_sec"]),
                             max_size=3)):
        obj[key] = draw(json_values)
    return obj


def command_payloads(ven_id: str) -> st.SearchStrategy[bytes]:
    """Raw payloads: broken commands, any JSON, deep nesting and bytes that are not JSON."""
    as_json = command_objects(ven_id).map(lambda o: json.dumps(o).encode())
    deep = st.integers(1, 1200).map(lambda n: b'{"op":"set","correlationId":"d","data":'
                                    + b'{"a":' * n + b"1" + b"}" * n + b"}")
    return st.one_of(as_json, as_json, json_values.map(lambda v: json.dumps(v).encode()),
                     deep, st.binary(max_size=64),
                     st.sampled_from([b'{"op":"set","correlationId":"r","data":{"x":1e400}}',
                                      b'{"op":"ping","correlationId":NaN}']))
