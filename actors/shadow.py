"""ShadowSyncerActor: keeps the VEN's AWS IoT device shadow in step with the VEN.

* on connect: `get`; a 404 just means no shadow yet, so it reports one;
* reports `state.reported` at once on a change (event started or ended, settings
  changed, a delta applied), and periodically on a 30 s grid of its own: the grid is
  anchored at its first report with telemetry (its phase), and a periodic report goes
  at least 30 s after the last report of any kind, at the first grid point that allows
  (phase + k * 30 s), with the telemetry that reaches that point (`_periodic_due`). So a
  VEN reports at most every 30 s apart from its reports on change, and a fan-out, which
  makes every VEN report at once, does not line up their periodic reports: each stays on
  the phase it came up with (10,000 VENs' reports in one burst every 30 s, otherwise);
* applies `delta` (load enabled/priority/capacity, report interval, panel
  amperage) by telling the controller and gateway, never touching an active
  curtailment, then reports; a desired `loads` entry is cleared once applied
  because the reported `loads` rows carry live power and never equal it;
* a rejected update with 409 (version conflict) re-gets the shadow, but only for this
  VEN's own requests (matched by clientToken): another client's conflicts are its own.

Manners towards the shadow service: at most one get in flight; the reports that several
messages ask for in one go are coalesced into one (`_Flush`, told to itself); versions
older than the one known are ignored. Every shadow message is read through
`sim.bounded` and checked to be an object where one is expected; anything else is
logged and dropped, and the VEN goes on. Of an `update/accepted` (the report echoed back
with its metadata, 4.8 KB) only the top-level version is used, so only that is read
(`bounded.top_level_int`), unless the reply is not laid out simply enough to find it so.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Any

import pykka

from actors.connection import Connection
from actors.messages import (
    Attach,
    ConfigChanged,
    EventAck,
    EventEnded,
    Inbound,
    LinkState,
    SetLoad,
    SetPanel,
    Subscribe,
    Telemetry,
    TelemetrySent,
)
from actors.runtime import DispatchedActor, Dispatcher
from sim import bounded, contract
from sim.limits import CAPACITY_KW_RANGE, PANEL_SIZES, PRIORITY_RANGE, REPORT_INTERVAL_S_RANGE

logger = logging.getLogger(__name__)

REPORT_EVERY_S = 30.0  # the periodic report's grid; never less than this between reports
EPOCH_TOLERANCE_S = 1e-6  # float epochs: a report due at a time goes a hair before it too
SUBSCRIPTIONS = (
    "get/accepted",
    "get/rejected",
    "update/accepted",
    "update/rejected",
    "update/delta",
)
TOKENS_REMEMBERED = 64  # this VEN's recent clientTokens: replies to these are its own


@dataclass(frozen=True)
class _Flush:
    """To itself: send the report that the messages handled so far asked for."""


class ShadowSyncerActor(DispatchedActor):
    def __init__(
        self,
        ven_id: str,
        controller: pykka.ActorRef[Any],
        gateway: pykka.ActorRef[Any],
        *,
        dispatcher: Dispatcher | None = None,
    ) -> None:
        super().__init__(dispatcher=dispatcher)
        self.ven_id = ven_id
        self.controller = controller
        self.gateway = gateway
        self.connection: Connection | None = None
        self.latest: Telemetry | None = None
        self._loads: bytes | None = None  # the latest's `loads` as the gateway published them
        self.config: dict[str, Any] = {}
        self.version: int | None = None
        self.last_report_epoch: float | None = None
        self.phase_epoch: float | None = None  # the first report's: anchors the periodic grid
        self.last_event: dict[str, Any] | None = None
        # The household's latest opt-out (sim.occupants): reported from the first one on.
        self.opt_out: dict[str, Any] | None = None
        self.status = "online"
        self.reports = self.deltas_applied = self.conflicts = 0
        self._token = 0  # the number in the last clientToken made (`_next_token`)
        self._get_token: str | None = None  # the get in flight
        self._get_epoch: float | None = None  # its VEN time, so a lost reply is not waited on
        self._link_up = False  # as the gateway last said
        self._flush: dict[str, Any] | None = None  # the coalesced report asked for
        self._last_delta: dict[str, Any] | None = None
        # Known ahead of the next telemetry, so a report on change is already right.
        self.active_events: list[str] = []
        self.panel_amps: int | None = None

    # Every telemetry, and an event's messages: handled without pykka's generic dispatch.
    receives = {Telemetry: "_on_telemetry", TelemetrySent: "_on_telemetry_sent",
                _Flush: "_on_flush", Inbound: "_on_inbound", EventAck: "_on_event_ack",
                EventEnded: "_on_event_ended"}

    def on_start(self) -> None:
        self.gateway.tell(Subscribe(self.actor_ref))

    def on_stop(self) -> None:
        if self.connection is not None and self.connection.connected:
            self.status = "offline"  # the last word before a clean disconnect
            self._send_report()

    # -- messages ---------------------------------------------------------------
    def _on_telemetry_sent(self, sent: TelemetrySent) -> None:
        self._on_telemetry(sent.telemetry, sent.loads_json)

    def _on_telemetry(self, telemetry: Telemetry, loads: bytes | None = None) -> None:
        self.latest, self._loads = telemetry, loads  # published: the rows only as the text
        if self._periodic_due(telemetry):
            self._report()
        asked = self._get_epoch
        if asked is not None and telemetry.epoch - asked >= REPORT_EVERY_S:
            self._get_token = None  # the reply was lost; the next get may go

    def _on_inbound(self, message: Inbound) -> None:
        self._on_shadow(message.topic, message.payload)

    def _on_event_ack(self, ack: EventAck) -> None:
        if ack.event_id not in self.active_events:
            self.active_events.append(ack.event_id)
        self._report()

    def _on_event_ended(self, message: EventEnded) -> None:
        if message.event_id in self.active_events:
            self.active_events.remove(message.event_id)
        if message.found:
            self.last_event = _event_summary(message)
        if message.opted_out:
            self.opt_out = {"eventId": message.event_id, "at": int(message.end_epoch)}
        self._report()

    def on_receive(self, message: Any) -> Any:
        if isinstance(message, Attach):
            self.connection = message.connection
            for suffix in SUBSCRIPTIONS:
                self.connection.subscribe(contract.shadow_topic(self.ven_id, suffix))
            self._get()
        elif isinstance(message, ConfigChanged):
            self.config.update(message.config)
            self._report()
        elif isinstance(message, LinkState):
            if message.connected:
                self._get()  # after a reconnect the shadow may have moved on
            elif self._link_up:  # a get sent before the link was ever up is still buffered
                self._get_token = None  # a reply in flight on the lost link will not come
            self._link_up = message.connected
        else:
            return super().on_receive(message)
        return None

    def _on_shadow(self, topic: str, raw: bytes) -> None:
        parsed = contract.parse_shadow_topic(topic)
        if parsed is None or parsed[0] != self.ven_id:
            return  # not this VEN's shadow
        suffix = parsed[1]
        if suffix == "update/accepted":
            # Of the 4.8 KB reply (the report echoed, with metadata) only the version is used.
            version = bounded.top_level_int(raw, "version")
            if version is not None:
                self._take_version(version)
                return
        try:
            doc = bounded.loads(raw)
        except bounded.BadJson as exc:
            logger.warning("%s: unreadable shadow message on %s: %s", self.ven_id, topic, exc)
            return
        if not isinstance(doc, dict):
            logger.warning("%s: shadow message on %s is not an object", self.ven_id, topic)
            return
        token = doc.get("clientToken")
        mine = is_recent_token(token, self.ven_id, self._token)
        if suffix.startswith("get/"):
            if token != self._get_token:
                return  # another client's get, or an answer to one given up on
            self._get_token = None
        version = doc.get("version")
        if _is_int(version):
            self._take_version(version)
        if suffix == "get/accepted":
            delta = _object(doc, "state", {})
            delta = _object(delta, "delta", {}) if delta is not None else None
            if delta is None:
                logger.warning("%s: shadow get/accepted without a state object", self.ven_id)
            elif delta:
                self._apply(delta)
            else:
                self._report()
        elif suffix == "get/rejected":
            if doc.get("code") != 404:
                logger.warning("%s: shadow get rejected: %s", self.ven_id,
                               bounded.show(doc.get("message")))
            self._report()  # 404: no shadow yet; reporting creates it
        elif suffix == "update/delta":
            state = _object(doc, "state", None)
            if state is None:
                logger.warning("%s: shadow delta without a state object", self.ven_id)
            else:
                self._apply(state)
        elif suffix == "update/rejected" and mine:
            if doc.get("code") == 409:
                self.conflicts += 1
                self._last_delta = None  # the re-got delta must be applied again
                self._get()
            else:
                logger.warning("%s: shadow update rejected: %s", self.ven_id,
                               bounded.show(doc.get("message")))

    def _take_version(self, version: int) -> None:
        if self.version is None or version > self.version:
            self.version = version  # an older version (another client's stale reply) is not

    # -- delta ----------------------------------------------------------------------
    def _apply(self, delta: dict[str, Any]) -> None:
        if delta == self._last_delta:
            return  # already applied; what is left cannot be met (e.g. an invalid value)
        self._last_delta = delta
        cleared: dict[str, Any] = {}
        for row in _load_rows(delta.get("loads")):
            self.controller.tell(
                SetLoad(
                    str(row["id"]),
                    enabled=row["enabled"] if isinstance(row.get("enabled"), bool) else None,
                    capacity_kw=_within(row.get("capacityKw"), CAPACITY_KW_RANGE),
                    priority=_priority(row.get("priority")),
                )
            )
        if "loads" in delta:
            cleared["loads"] = None
        interval = _within(delta.get("report_interval_seconds"), REPORT_INTERVAL_S_RANGE)
        if interval is not None:
            self.config["report_interval_seconds"] = interval
            self.gateway.tell(ConfigChanged({"report_interval_seconds": interval}))
        amps = delta.get("panelAmperageRating")
        if amps in PANEL_SIZES:
            self.panel_amps = int(amps)
            self.controller.tell(SetPanel(int(amps)))
        self.deltas_applied += 1
        self._report(desired=cleared, with_version=True)

    # -- publishing -------------------------------------------------------------------
    def _periodic_due(self, telemetry: Telemetry) -> bool:
        """Whether this telemetry takes the periodic report: the first with telemetry, then
        one at least 30 s after the last report, at the grid point due next.

        The grid point is reached by the telemetry at or after it, or by the one before it
        when the next (one telemetry interval on) would pass it: with a report interval of
        30 s or more every telemetry is reported, as with no grid (a 40 s interval would
        otherwise skip every other report, waiting for the point after).
        """
        last, phase = self.last_report_epoch, self.phase_epoch
        if last is None or phase is None:
            return True
        now = telemetry.epoch
        if now - last < REPORT_EVERY_S - EPOCH_TOLERANCE_S:
            return False
        due = next_grid_point(phase, last + REPORT_EVERY_S)
        next_telemetry = now + (telemetry.t1 - telemetry.t0)
        return now >= due - EPOCH_TOLERANCE_S or next_telemetry > due + EPOCH_TOLERANCE_S

    def _get(self) -> None:
        if self._get_token is not None:
            return  # one get in flight at most; its reply brings the same shadow
        self._get_token = self._next_token()
        self._get_epoch = self.latest.epoch if self.latest is not None else None
        self._publish("get", contract.encode({"clientToken": self._get_token}))

    def _report(self, desired: dict[str, Any] | None = None, with_version: bool = False) -> None:
        """Ask for a report; the ones asked for by the messages already queued go as one."""
        if self._flush is None:
            self._flush = {"desired": {}, "with_version": False}
            self.actor_ref.tell(_Flush())
        self._flush["desired"].update(desired or {})
        self._flush["with_version"] |= with_version

    def _on_flush(self, _message: _Flush) -> None:
        asked, self._flush = self._flush, None
        if asked is not None:
            self._send_report(asked["desired"], asked["with_version"])

    def _send_report(self, desired: dict[str, Any] | None = None,
                     with_version: bool = False) -> None:
        state = contract.ShadowState(
            self.ven_id, self.status, self.active_events[0] if self.active_events else None,
            self.last_event, _json_number(self.config.get("report_interval_seconds", 5.0)),
            self.opt_out, self.panel_amps)
        request = contract.shadow_report(
            state, self.latest, self._loads, client_token=self._next_token(), desired=desired,
            version=self.version if with_version else None)
        self._publish("update", request)
        self.reports += 1
        if self.latest is not None:
            self.last_report_epoch = self.latest.epoch
            if self.phase_epoch is None:
                self.phase_epoch = self.latest.epoch

    def _publish(self, operation: str, request: bytes) -> None:
        if self.connection is not None:
            self.connection.publish(contract.shadow_topic(self.ven_id, operation), request)

    def _next_token(self) -> str:
        self._token += 1
        return f"{self.ven_id}-{self._token}"


def is_recent_token(token: object, ven_id: str, last: int) -> bool:
    """Whether `token` is one of the last `TOKENS_REMEMBERED` clientTokens a VEN made, the last
    numbered `last`: `{ven_id}-{n}` for n in turn from 1. Known from the number alone, not kept
    (64 tokens were up to 4 KB a VEN); the same answer as the last 64 tokens kept in a list."""
    if not isinstance(token, str):
        return False
    prefix, _, number = token.rpartition("-")
    if prefix != ven_id or not (number.isascii() and number.isdigit()):
        return False
    n = int(number)
    return str(n) == number and max(1, last - TOKENS_REMEMBERED + 1) <= n <= last


def next_grid_point(phase: float, earliest: float) -> float:
    """The first periodic report time `phase + k * REPORT_EVERY_S` at or after `earliest`."""
    steps = math.ceil((earliest - phase - EPOCH_TOLERANCE_S) / REPORT_EVERY_S)
    return phase + steps * REPORT_EVERY_S


def _event_summary(ended: EventEnded) -> dict[str, Any]:
    return {
        "eventId": ended.event_id,
        "requestedReductionKw": round(ended.requested_kw, 3),
        "actualReductionKw": round(ended.delivered_kw, 3),
        "deliveredKwh": round(ended.delivered_kwh, 3),
        "baselineKw": round(ended.baseline_kw, 3),
        "startTs": int(ended.start_epoch),
        "endTs": int(ended.end_epoch),
    }


def _load_rows(value: Any) -> list[dict[str, Any]]:
    """Desired loads as a list of {id, ...} rows or a map of id -> settings."""
    if isinstance(value, dict):
        return [{"id": k, **v} for k, v in value.items() if isinstance(v, dict)]
    if isinstance(value, list):
        return [row for row in value if isinstance(row, dict) and isinstance(row.get("id"), str)]
    return []


def _json_number(value: float) -> float | int:
    """10.0 as 10: a desired 10 must compare equal to what is reported, or the delta stays."""
    return int(value) if float(value).is_integer() else value


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _within(value: Any, limits: tuple[float, float]) -> float | None:
    """`value` as a float if it is a number within `limits` (inclusive) and above 0."""
    ok = isinstance(value, int | float) and not isinstance(value, bool)
    return float(value) if ok and value > 0 and limits[0] <= value <= limits[1] else None


def _priority(value: Any) -> int | None:
    low, high = PRIORITY_RANGE
    return value if _is_int(value) and low <= value <= high else None


def _object(doc: dict[str, Any], key: str, default: Any) -> Any:
    """doc[key] if it is an object, `default` if absent or null, None if anything else."""
    value = doc.get(key)
    if value is None:
        return default
    return value if isinstance(value, dict) else None
