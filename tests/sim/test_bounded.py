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


# -- top_level_int: one number read from a large document ---------------------------------
keys = st.sampled_from(["version", "clientToken", "state", "x"])
documents = st.recursive(
    st.dictionaries(keys, json_values, max_size=4),
    lambda inner: st.dictionaries(keys, inner | json_values, max_size=4),
    max_leaves=16,
)


@FUZZ
@given(doc=documents, version=st.integers() | json_values, last=st.booleans(),
       indent=st.sampled_from([None, 1]), separators=st.sampled_from([None, (",", ":")]))
def test_a_top_level_int_read_alone_is_the_one_a_full_parse_reads(
    doc: dict, version: object, last: bool, indent: int | None,
    separators: tuple[str, str] | None
) -> None:
    doc = {**doc, "version": version} if last else {"version": version, **doc}
    raw = json.dumps(doc, indent=indent, separators=separators).encode()
    value = bounded.top_level_int(raw, "version")
    if value is not None:  # None: parse it whole, never a wrong number
        parsed = bounded.loads(raw)["version"]
        assert value == parsed and type(parsed) is int


@pytest.mark.parametrize("version", [0, 7, 123456789])
def test_a_shadow_update_accepted_is_read_for_its_version(version: int) -> None:
    # Laid out as AWS and the shadow service send it: the version after state and metadata,
    # and nested "version" keys and look-alike strings before it.
    reply = {"state": {"reported": {"version": 99, "note": '"version": 5}', "loads": [
                 {"id": "hvac", "currentPowerKw": 1.25}]}},
             "metadata": {"reported": {"version": {"timestamp": 1}}},
             "version": version, "timestamp": 1784131200, "clientToken": "ven-000001-7"}
    assert bounded.top_level_int(json.dumps(reply).encode(), "version") == version


@pytest.mark.parametrize("raw", [
    b'{"state": {"version": 3}}',  # only nested
    b'{"version": 3, "state": {"version": 4}}',  # the last one is nested: parse it whole
    b'{"version": 3.0}', b'{"version": true}', b'{"version": "3"}', b'{"version": 03}',
    b'{"version": 1234567890123456789}',  # longer than read this way
    b'[{"version": 3}]', b'{"version": 3', b'{"version": 3}}', b'{"version": 3} x',
    b'{"version": 3, "clientToken": "a\\"b"}',  # an escape after it
    b'{"a": ' + b"[" * 40 + b"]" * 40 + b', "version": 3}',  # too deep
    b'{"version": 3, "pad": "' + b"x" * (128 * 1024) + b'"}',  # too large
])
def test_a_top_level_int_not_read_alone_is_left_to_the_full_parse(raw: bytes) -> None:
    assert bounded.top_level_int(raw, "version") is None


def _reference_loads(raw: bytes) -> object:
    """bounded.loads as it was written first: json.loads with the hooks, a decoder per call."""
    return json.loads(raw, parse_float=bounded._finite, parse_constant=bounded._constant)


@FUZZ
@given(raw=tricky | json_values.map(lambda v: json.dumps(v).encode())
       | json_values.map(lambda v: json.dumps(v).encode("utf-16"))
       | st.binary(max_size=40) | st.sampled_from([b"NaN", b"[1e400]", b"\xef\xbb\xbf{}"])
       # Objects: read as UTF-8 without detecting it, their depth counted only if it may be over.
       | st.sampled_from([b'{"a":1e400}', b'{"a":-1E400}', b'{"a":NaN}', b'{"a":Infinity}',
                         b'{"a":' + b"9" * 400 + b'.5}', b'{"a":' + b"9" * 299 + b"}",
                         b'{"a":1.25} ', b'{"a":1.25}x', b'{"a":-0.0,"b":[2.5e3]}', b"{",
                         b'{"\xff":1}', b'{"a":"1e9"}', b"{\x00}", b'{"a":0.1}'])
       | json_values.map(lambda v: json.dumps({"v": v}).encode()))
def test_one_decoder_made_once_reads_as_json_loads_does(raw: bytes) -> None:
    try:
        expected: object = _reference_loads(raw)
    except (ValueError, RecursionError) as exc:  # BadJson is a ValueError
        expected = BadJsonSeen(str(exc))
    if bounded.depth(raw) > MAX_JSON_DEPTH:
        return  # refused before parsing
    try:
        got: object = bounded.loads(raw)
    except bounded.BadJson as exc:
        got = BadJsonSeen(str(exc))
    assert got == expected


class BadJsonSeen(str):
    """An error's message, compared by its text."""
