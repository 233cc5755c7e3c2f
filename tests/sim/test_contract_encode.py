"""`one_shot_encoder`: `json.JSONEncoder(**options).encode` with CPython's C encoder made once,
the encoder behind every payload (`compact`) and the commands' digest."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from sim._contract_encode import one_shot_encoder
from tests.fuzzing import FUZZ, json_values

_ENCODER_OPTIONS = [
    {"separators": (",", ":"), "ensure_ascii": False, "allow_nan": False, "check_circular": False},
    {"sort_keys": True, "separators": (",", ":"), "check_circular": False},  # commands' digest
    {"allow_nan": True, "check_circular": False, "skipkeys": True},
    {"sort_keys": True},  # with the circular-reference check: the encoder's own method
]


@FUZZ
@given(value=json_values | st.sampled_from([
    {"nan": float("nan")}, [float("-inf")], {"n": 1e22, "z": -0.0}, "\u00e9\u2028\x00",
    {"s": "\u00e9", 1: True, None: 2.5}, {"set": {1}}, [object()], {(1, 2): "tuple key"}]),
    options=st.sampled_from(_ENCODER_OPTIONS))
def test_a_one_shot_encoder_writes_what_its_json_encoder_writes(value: Any,
                                                                options: dict[str, Any]) -> None:
    """The same text, or the same error, as `json.JSONEncoder(**options).encode`, call after
    call (a failed call leaves nothing behind for the next)."""
    encode_once = one_shot_encoder(**options)
    for _ in range(2):
        try:
            expected: Any = json.JSONEncoder(**options).encode(value)
        except (TypeError, ValueError) as exc:
            expected = (type(exc), str(exc))
        try:
            got: Any = encode_once(value)
        except (TypeError, ValueError) as exc:
            got = (type(exc), str(exc))
        assert got == expected
