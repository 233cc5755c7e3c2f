"""Every reply the shadow store makes is written exactly as `json.dumps` writes it, whatever
the updates: `reply_json` (its spliced documents, its encoder without the circular-reference
check) against the standard library's own, on generated sequences of updates."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from ven_sim.broker.shadow_doc import reply_json
from ven_sim.broker.shadow_store import ShadowStore

NOW = 1_700_000_000
KEYS = st.sampled_from(["a", "b", "loads", "kW", "Kühl", "x\"y", "\u2603", "n"])
SCALARS = (st.none() | st.booleans() | st.integers(-2**40, 2**40)
           | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=8))
VALUES = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=3)
                      | st.dictionaries(KEYS, inner, max_size=3), max_leaves=12)
SECTION = st.none() | st.dictionaries(KEYS, VALUES, max_size=4)
UPDATE = st.fixed_dictionaries({}, optional={"desired": SECTION, "reported": SECTION})


@settings(max_examples=150, deadline=None)
@given(st.lists(UPDATE, min_size=1, max_size=5), st.booleans())
def test_every_reply_is_json_dumps_text(updates: list[dict[str, Any]], with_token: bool) -> None:
    store = ShadowStore(clock=lambda: NOW)
    for n, state in enumerate(updates):
        request: dict[str, Any] = {"state": state}
        if with_token:
            request["clientToken"] = f"t-{n}"
        replies = store.handle("ven-1", "update", json.dumps(request).encode())
        replies += store.handle("ven-1", "get", b"")
        for _suffix, reply in replies:
            assert reply_json(reply) == json.dumps(reply)
