"""sim/bounded.py: the depth check before parsing, fast path against the exact count."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sim import bounded
from sim.limits import MAX_JSON_DEPTH
from tests.fuzzing import FUZZ, json_values

# Bytes that move the depth count: brackets, quotes and escapes, among filler.
tricky = st.lists(st.sampled_from([b"[", b"]", b"{", b"}", b'"', b"\\", b"a", b",", b"\n"]),
                  max_size=60).map(b"".join)


@FUZZ
@given(raw=tricky | json_values.map(lambda v: json.dumps(v).encode()),
       limit=st.integers(min_value=0, max_value=8))
def test_the_fast_check_never_passes_what_the_exact_count_refuses(raw: bytes, limit: int) -> None:
    if bounded._nests_within(raw, limit):
        assert bounded.depth(raw) <= limit
    # Well-formed JSON is judged exactly: within the limit if and only if the count says so.
    if raw[:1] not in (b"]", b"}") and _is_json(raw):
        assert bounded._nests_within(raw, limit) == (bounded.depth(raw) <= limit)


def _is_json(raw: bytes) -> bool:
    try:
        json.loads(raw)
    except ValueError:
        return False
    return True


@pytest.mark.parametrize("opener", ["[", '{"k":'])
def test_too_deep_is_refused_with_its_exact_depth(opener: str) -> None:
    closer = "]" if opener == "[" else "}"
    deep = (opener * (MAX_JSON_DEPTH + 5) + "1" + closer * (MAX_JSON_DEPTH + 5)).encode()
    with pytest.raises(bounded.BadJson, match=f"nested {MAX_JSON_DEPTH + 5} deep"):
        bounded.loads(deep)
    at_limit = (opener * MAX_JSON_DEPTH + "1" + closer * MAX_JSON_DEPTH).encode()
    assert bounded.depth(at_limit) == MAX_JSON_DEPTH
    bounded.loads(at_limit)  # parses


def test_brackets_in_strings_do_not_count_with_or_without_escapes() -> None:
    plain = json.dumps({"name": "[[[[{{{{" * 10, "x": [1]}).encode()
    escaped = json.dumps({"name": '"[[[[{{{{' * 10, "x": [1]}).encode()  # \" inside
    for raw in (plain, escaped):
        assert bounded.depth(raw) == 2 and bounded._nests_within(raw, 2)
        assert not bounded._nests_within(raw, 1)
        assert bounded.loads(raw)["x"] == [1]
