"""The shadow report from its template (`shadow_report`): the same bytes (or the same error) as
`shadow_report_json` writes for the same members, with the loads as the telemetry published
them (`telemetry_loads`) or encoded anew."""

from __future__ import annotations

from typing import Any

from hypothesis import example, given
from hypothesis import strategies as st

from sim.contract import (
    ShadowState,
    loads_json,
    report_facts,
    report_members,
    shadow_report,
    shadow_report_json,
    telemetry_facts,
    telemetry_json,
    telemetry_loads,
)
from tests.sim.test_contract_telemetry_json import _outcome, _rows, _telemetry

_names = st.text(max_size=12)  # escapes, quotes, non-ASCII
_numbers = st.floats(width=64) | st.integers(-10**6, 10**6)  # NaN and infinities too
_summary = st.none() | st.fixed_dictionaries({"eventId": _names, "deliveredKwh": _numbers})
_states = st.builds(
    ShadowState, ven_id=_names, status=st.sampled_from(["online", "offline"]),
    active_event_id=st.none() | _names, last_event=_summary,
    report_interval_s=st.sampled_from([5, 7.5, 30, 0.25]),
    opt_out=st.none() | st.fixed_dictionaries({"eventId": _names, "at": st.integers(0, 2**40)}),
    panel_amps=st.none() | st.sampled_from([100, 150, 200]))
_telemetries = st.none() | st.builds(
    lambda loads, shed, soc: _telemetry(loads, shed_capability_kw=shed, battery_soc=soc),
    st.lists(_rows, max_size=4).map(tuple), _numbers, st.none() | st.floats(0.0, 1.0))


@given(state=_states, telemetry=_telemetries, published=st.booleans(), rows_kept=st.booleans(),
       desired=st.none() | st.dictionaries(_names, st.none() | _names, max_size=2),
       token=_names, version=st.none() | st.integers(0, 2**31))
def test_a_report_from_its_template_is_the_same_as_one_written_from_its_members(
        state: ShadowState, telemetry: Any, published: bool, rows_kept: bool,
        desired: dict[str, Any] | None, token: str, version: int | None) -> None:
    loads = None
    if published and telemetry is not None:
        text = loads_json(telemetry.loads)
        loads = text.encode() if text is not None else None
    facts = report_facts(telemetry) if telemetry is not None else None
    reported, after = report_members(state, facts)
    expected = _outcome(lambda: shadow_report_json(
        reported, telemetry.loads if telemetry is not None else None, after,
        client_token=token, desired=desired, version=version))
    # A syncer keeps a published telemetry's loads as their text alone, its rows dropped.
    kept = telemetry if loads is None or rows_kept else telemetry._replace(loads=())
    got = _outcome(lambda: shadow_report(state, kept, loads, client_token=token,
                                         desired=desired, version=version))
    assert got == expected


@given(telemetry=_telemetries.filter(lambda t: t is not None),
       epoch=st.floats(0, 2e9) | st.sampled_from([0.5, 1.5, 2.5]),
       used=st.floats(-50, 50) | st.integers(-50, 50), panel=st.sampled_from([100, 200, 7]))
def test_a_reports_facts_are_the_telemetrys(telemetry: Any, epoch: float, used: float,
                                            panel: int) -> None:
    telemetry = telemetry._replace(epoch=epoch, used_kw=used, panel_amps=panel)
    try:
        facts = telemetry_facts(telemetry)
    except ValueError as exc:  # not a panel size
        assert _outcome(lambda: report_facts(telemetry)) == f"ValueError: {exc}"
        return
    got = report_facts(telemetry)
    assert repr(got[:4]) == repr((facts["timestamp"], facts["usedPowerKw"], facts["batterySoc"],
                                  facts["panelAmperageRating"]))


@given(loads=st.lists(_rows, max_size=5).map(tuple), event=st.none() | _names,
       ven=st.sampled_from(["ven-1", 'v,"loads":[1],"power_kw":2']))
@example(loads=tuple({"id": "", "name": "", "breaker_amps": 15, "critical": False,
                      "priority": 0, "enabled": False, "power_kw": 0.0,
                      "shed_capability_kw": 1.7976931348623155e308, "curtailed_kw": 0.0}
                     for _ in range(2)),
         event=None, ven="ven-1")  # finite readings whose sum overflows (found by hypothesis)
def test_the_loads_a_telemetry_published_are_its_loads_text(
        loads: tuple[dict[str, Any], ...], event: str | None, ven: str) -> None:
    telemetry = _telemetry(loads, event_id=event, ven_id=ven)
    try:
        payload = telemetry_json(telemetry)
    except ValueError:  # a reading that is not finite: nothing published
        return
    assert telemetry_loads(payload) == loads_json(loads).encode()


def test_a_payload_without_loads_has_no_loads_text() -> None:
    assert telemetry_loads(b'{"venId":"v","power_kw":1}') is None
    assert telemetry_loads(b'{"power_kw":1,"loads":[]}') is None
