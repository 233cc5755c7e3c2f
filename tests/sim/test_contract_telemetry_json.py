"""Telemetry in wire form (`telemetry_json`, `loads_json`, and the shadow report that carries
its loads, `shadow_report_json`): the bytes `encode` writes for the same document, made from
each load row's facts encoded once."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from actors.messages import Telemetry
from sim.contract import (
    encode,
    kw_text,
    loads_json,
    shadow_report_json,
    telemetry_json,
    telemetry_payload,
)
from tests.fuzzing import FUZZ
from tests.sim.contract_helpers import VEN

_readings = st.floats(allow_nan=False, allow_infinity=False, width=64) | st.integers(-10**6, 10**6)
_any_reading = st.floats(width=64) | _readings  # NaN and infinities too
_names = st.text(max_size=12)  # escapes, quotes, non-ASCII: the facts' text is the encoder's
_rows = st.fixed_dictionaries({
    "id": _names, "name": _names, "breaker_amps": st.sampled_from([15, 20, 30, 40, 50]),
    "critical": st.booleans(), "priority": st.integers(0, 10), "enabled": st.booleans(),
    "power_kw": _readings, "shed_capability_kw": _readings, "curtailed_kw": st.just(0.0),
}, optional={"type": _names, "indoor_c": _readings})


def _telemetry(loads: tuple[dict[str, Any], ...], **over: Any) -> Telemetry:
    fields: dict[str, Any] = {
        "ven_id": VEN, "t0": 0.0, "t1": 300.0, "epoch": 1_700_000_300.4, "used_kw": 4.8,
        "baseline_kw": 6, "shed_kw": 1.2, "requested_kw": 2, "event_id": None,
        "battery_soc": None, "shed_capability_kw": 3.0, "comfort_minutes": 0.0,
        "panel_amps": 200, "loads": loads}
    return Telemetry(**{**fields, **over})


def _outcome(encoded: Any, *args: Any) -> bytes | str:
    """The bytes, or the ValueError's message."""
    try:
        return encoded(*args)
    except ValueError as exc:
        return f"ValueError: {exc}"


def _as_encoded(t: Telemetry, timestamp: int | None = None) -> bytes:
    document = telemetry_payload(t)
    if timestamp is not None:
        document["timestamp"] = timestamp
    return encode(document)


@FUZZ
@given(loads=st.lists(_rows, max_size=9).map(tuple), used=_any_reading, shed=_any_reading,
       soc=st.none() | _readings, event=st.none() | _names,
       stamp=st.none() | st.integers(0, 2**40) | st.floats(0, 2e9) | st.booleans())
def test_the_same_bytes_as_encoding_the_payload(loads: tuple[dict[str, Any], ...], used: float,
                                                shed: float, soc: float | None,
                                                event: str | None, stamp: int | None) -> None:
    # A float or bool stamp is not what a VEN sends: written the long way, as encode writes it.
    # A NaN or infinity at the top: refused by both, with the same error.
    t = _telemetry(loads, used_kw=used, shed_kw=shed, battery_soc=soc, event_id=event)
    assert _outcome(telemetry_json, t, stamp) == _outcome(_as_encoded, t, stamp)
    rows = json.dumps([_load_rows(t)], separators=(",", ":"), ensure_ascii=False)[1:-1]
    text = loads_json(loads)
    if text is None:  # only for readings whose sum overflows: the slow path writes those
        assert not math.isfinite(sum(_load_readings(t)))
    else:
        assert text == rows


def _load_readings(t: Telemetry) -> list[float]:
    return [row[key] for row in _load_rows(t) for key in ("currentPowerKw", "shedCapabilityKw")]


def _load_rows(t: Telemetry) -> list[dict[str, Any]]:
    return telemetry_payload(t._replace(used_kw=0.0, battery_soc=None))["loads"]


def test_a_row_whose_facts_change_is_written_with_its_new_facts() -> None:
    row = {"id": "hvac1", "name": "HVAC", "breaker_amps": 30, "priority": 3, "enabled": True,
           "power_kw": 2.5, "shed_capability_kw": 1.0}
    first = telemetry_json(_telemetry((row,)))
    disabled = telemetry_json(_telemetry(({**row, "enabled": False, "priority": 1},)))
    assert b'"enabled":true,"priority":3' in first
    assert b'"enabled":false,"priority":1' in disabled
    # True and 1 are one key to a cache: a name of 1 is not written as "True".
    assert b'"name":"1"' in telemetry_json(_telemetry(({**row, "name": 1},)))
    assert b'"name":"True"' in telemetry_json(_telemetry(({**row, "name": True},)))


@pytest.mark.parametrize("field", ["power_kw", "shed_capability_kw"])
@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_a_reading_that_is_not_a_number_is_refused_as_encode_refuses_it(field: str,
                                                                        bad: float) -> None:
    row = {"id": "hvac1", "name": "HVAC", "breaker_amps": 30, "priority": 3, "enabled": True,
           "power_kw": 2.5, "shed_capability_kw": 1.0, field: bad}
    t = _telemetry((row,))
    assert loads_json(t.loads) is None
    with pytest.raises(ValueError) as expected:
        _as_encoded(t)
    with pytest.raises(ValueError) as got:
        telemetry_json(t)
    assert str(got.value) == str(expected.value)


@pytest.mark.parametrize("field", ["used_kw", "shed_kw", "requested_kw", "baseline_kw"])
@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_a_top_level_value_that_is_not_a_number_is_refused_as_encode_refuses_it(
        field: str, bad: float) -> None:
    row = {"id": "hvac1", "name": "HVAC", "breaker_amps": 30, "priority": 3, "enabled": True,
           "power_kw": 2.5, "shed_capability_kw": 1.0}
    t = _telemetry((row,), **{field: bad})
    with pytest.raises(ValueError) as expected:
        _as_encoded(t)
    with pytest.raises(ValueError) as got:
        telemetry_json(t)
    assert str(got.value) == str(expected.value)


def test_over_the_payload_limit_is_refused() -> None:
    row = {"id": "x" * 70_000, "name": "y" * 70_000, "breaker_amps": 30, "priority": 3,
           "enabled": True, "power_kw": 2.5, "shed_capability_kw": 1.0}
    with pytest.raises(ValueError, match="over the 131072-byte AWS IoT limit"):
        telemetry_json(_telemetry((row,)))


_members = st.dictionaries(_names, _names | _readings | st.none(), max_size=3)


@FUZZ
@given(loads=st.none() | st.lists(_rows, max_size=5).map(tuple), reported=_members,
       after=_members, desired=st.none() | _members, token=_names,
       version=st.none() | st.integers(0, 2**31))
def test_a_shadow_report_is_the_same_bytes_as_encoding_it(
        loads: tuple[dict[str, Any], ...] | None, reported: dict[str, Any],
        after: dict[str, Any], desired: dict[str, Any] | None, token: str,
        version: int | None) -> None:
    # Members apart: none is `loads`, none both before and after it.
    reported.pop("loads", None)
    after = {key: value for key, value in after.items() if key not in reported and key != "loads"}
    rows = telemetry_payload(_telemetry(loads or ()))["loads"]
    state: dict[str, Any] = {"reported": {**reported, "loads": rows, **after}}
    if desired:
        state["desired"] = desired
    document: dict[str, Any] = {"state": state, "clientToken": token}
    if version is not None:
        document["version"] = version
    got = _outcome(lambda: shadow_report_json(reported, loads, after, client_token=token,
                                              desired=desired, version=version))
    assert got == _outcome(encode, document)


@FUZZ
@given(value=st.floats(width=64) | st.floats(-2e9, 2e9) | st.integers(-10**12, 10**12)
       | st.sampled_from([0.0, -0.0, 0.0004, -0.0004, 0.0005, 0.0015, 2.675, 999_999_999.9995,
                          1e9, -1e9, 1e16, 5e-324]))
def test_kw_text_is_repr_of_the_rounded_value(value: float) -> None:
    assert kw_text(value) == repr(round(float(value), 3))
