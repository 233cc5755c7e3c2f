"""The device shadow's report: a part of `sim.contract` (exported from there), kept apart to
keep that module short. See `sim.contract` for the rules every field follows.

A VEN reports on every change and every 30 s, each time its whole `state.reported`, most of it
the same as the last time: the report is written from a template, not built as a document and
encoded, and its `loads` are the text its telemetry already carried (`telemetry_loads`).
"""

from __future__ import annotations

import functools
import math
from json.encoder import encode_basestring as _string  # a str as the encoder writes it
from typing import Any, NamedTuple

from sim._contract_encode import _kw, checked_size, compact
from sim._contract_telemetry import loads_json, shadow_report_json
from sim.models.house import panel_facts
from sim.records import Telemetry

SHADOW_SCHEMA_VERSION = "1.0"

_LOADS_KEY = b',"loads":'  # in a telemetry payload: its one top-level `loads` member, and
_AFTER_LOADS = b',"power_kw":'  # the member after it


class ReportFacts(NamedTuple):
    """What a shadow report carries of a VEN's telemetry, as `telemetry_facts` makes it."""

    timestamp: int
    used_kw: float
    battery_soc: float | None
    panel_amps: int
    shed_available_kw: float


def report_facts(t: Telemetry) -> ReportFacts:
    """Those of `telemetry_facts(t)` (the same values; ValueError for a panel size that is
    not one), without the rest."""
    soc = t.battery_soc
    return ReportFacts(int(round(t.epoch)), _kw(t.used_kw),
                       None if soc is None else min(1.0, max(0.0, float(soc))),
                       _panel_rating(int(t.panel_amps)), round(t.shed_capability_kw, 3))


@functools.lru_cache(maxsize=16)  # a handful of panel sizes
def _panel_rating(panel_amps: int) -> int:
    return int(panel_facts(panel_amps)["panelAmperageRating"])


def telemetry_loads(payload: bytes) -> bytes | None:
    """The `loads` array's text in a telemetry payload as `telemetry_json` writes it (the
    text `loads_json` gives); None if it is not laid out so. Outside strings only keys have a
    quote after a comma, and inside them a quote is escaped: `,"loads":` is the member's key,
    and the last `,"power_kw":` the member after it (the array's rows have neither key)."""
    start = payload.find(_LOADS_KEY) + len(_LOADS_KEY)
    end = payload.rfind(_AFTER_LOADS)
    if start < len(_LOADS_KEY) or end < start:
        return None
    loads = payload[start:end]
    return loads if loads[:1] == b"[" and loads[-1:] == b"]" else None


class ShadowState(NamedTuple):
    """A VEN's state as its shadow report gives it, beside its latest telemetry."""

    ven_id: str
    status: str  # "online" or, the last word, "offline"
    active_event_id: str | None
    last_event: dict[str, Any] | None  # the last event's summary
    report_interval_s: float | int
    opt_out: dict[str, Any] | None  # absent until the first: older backends see no change
    panel_amps: int | None  # as a delta set it; else the telemetry's


def report_members(state: ShadowState, facts: ReportFacts | None
                   ) -> tuple[dict[str, Any], dict[str, Any]]:
    """The reported state's members before its `loads`, and after them."""
    reported: dict[str, Any] = {
        "schemaVersion": SHADOW_SCHEMA_VERSION,
        "ven": {"venId": state.ven_id, "enabled": True, "status": state.status,
                "lastPublishTs": facts.timestamp if facts else None},
    }
    after: dict[str, Any] = {
        "metrics": {
            "currentPowerKw": facts.used_kw if facts else None,
            "shedAvailabilityKw": facts.shed_available_kw if facts else None,
            "batterySoc": facts.battery_soc if facts else None,
            "activeEventId": state.active_event_id,
            "lastEventSummary": state.last_event,
        },
        "report_interval_seconds": state.report_interval_s,
    }
    if state.opt_out is not None:
        after["optOut"] = state.opt_out
    if state.panel_amps is not None:
        after["panelAmperageRating"] = state.panel_amps
    elif facts:
        after["panelAmperageRating"] = facts.panel_amps
    return reported, after


def _scalar(value: Any) -> str | None:
    """`compact(value)` for None, an int, a finite float or a str; None for anything else."""
    kind = type(value)
    if value is None:
        return "null"
    if kind is int:
        return repr(value)
    if kind is float:
        return repr(value) if math.isfinite(value) else None
    if kind is str:
        return _string(value)
    return None


def shadow_report(state: ShadowState, telemetry: Telemetry | None, loads: bytes | None, *,
                  client_token: str, desired: dict[str, Any] | None = None,
                  version: int | None = None) -> bytes:
    """The shadow `update` reporting `state` and `telemetry` (None before the first): the
    same bytes as `shadow_report_json(*report_members(...), ...)`, written from a template.
    `loads` is the telemetry's `loads` text as published (`telemetry_loads`), None to
    encode it here; given, the telemetry's own rows are not read (a VEN keeps only the text)."""
    facts = report_facts(telemetry) if telemetry is not None else None
    published = loads
    if loads is None:
        rows = loads_json(telemetry.loads) if telemetry is not None and telemetry.loads else "[]"
        loads = rows.encode("utf-8") if rows is not None else None
    panel = state.panel_amps if state.panel_amps is not None else (facts and facts.panel_amps)
    values = ((state.ven_id, state.status, state.active_event_id, state.report_interval_s,
               client_token, version, panel)
              + (facts[:4] if facts else (None,) * 4) + (facts and facts.shed_available_kw,))
    texts = [_scalar(value) for value in values]
    if loads is None or None in texts:  # refused as encode refuses it, or an unusual value
        reported, after = report_members(state, facts)
        return shadow_report_json(reported, telemetry.loads if telemetry is not None else None,
                                  after, client_token=client_token, desired=desired,
                                  version=version, loads_text=published)
    ven, status, event, interval, token, version_text, panel_text, ts, used, soc, _, shed = texts
    head = (f'{{"state":{{"reported":{{"schemaVersion":"{SHADOW_SCHEMA_VERSION}",'
            f'"ven":{{"venId":{ven},"enabled":true,"status":{status},"lastPublishTs":{ts}}},'
            '"loads":')
    tail = [f',"metrics":{{"currentPowerKw":{used},"shedAvailabilityKw":{shed},'
            f'"batterySoc":{soc},"activeEventId":{event},"lastEventSummary":',
            compact(state.last_event), f'}},"report_interval_seconds":{interval}']
    if state.opt_out is not None:
        tail += [',"optOut":', compact(state.opt_out)]
    if panel is not None:
        tail.append(f',"panelAmperageRating":{panel_text}')
    tail.append("}")
    if desired:
        tail += [',"desired":', compact(desired)]
    tail.append(f'}},"clientToken":{token}')
    if version is not None:
        tail.append(f',"version":{version_text}')
    tail.append("}")
    return checked_size(b"".join((head.encode("utf-8"), loads, "".join(tail).encode("utf-8"))))
