"""GatewayActor: a VEN's MQTT face, speaking the backend's wire contract.

Publishes the controller's telemetry to `volttron/metering` and
`ven/telemetry/{venId}`, takes commands on `ven/cmd/{venId}`, turns them into
controller messages and answers every one on `ven/ack/{venId}`. It uses the VEN's
one connection (`Attach`), from any `actors.connection.Transport`: paho over TLS,
or in-process.

Input is never trusted: a bad command gets an error ack and the VEN goes on.
A repeated correlationId is answered again from the ack cache, not applied twice;
reused with another body, it gets an error ack and nothing is applied.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import pykka

from actors.connection import Connection
from actors.messages import (
    Attach,
    ClockSkew,
    ConfigChanged,
    EventAck,
    EventEnded,
    Inbound,
    LinkState,
    SetLoad,
    ShedLoad,
    Subscribe,
    Telemetry,
    TelemetrySent,
)
from actors.runtime import DispatchedActor, Dispatcher
from sim import commands, contract
from sim.ack_cache import AckCache
from sim.commands import Command, CommandError
from sim.small_queues import RecentItems

logger = logging.getLogger(__name__)

DEFAULT_CONFIG = {"report_interval_seconds": 5.0}
ENDED_REMEMBERED = 256  # event ids whose end this VEN saw, so a late restore can say so


def _full_config(config: dict[str, Any] | None) -> dict[str, Any]:
    """`config` over the defaults, shared rather than copied where it can be (a fleet's VENs
    pass one dict): a gateway replaces its config, never updates it in place."""
    if not config:
        return DEFAULT_CONFIG
    full = {**DEFAULT_CONFIG, **config}
    return config if list(full.items()) == list(config.items()) else full


class GatewayActor(DispatchedActor):
    def __init__(
        self,
        ven_id: str,
        controller: pykka.ActorRef[Any],
        *,
        clock: Callable[[], float],
        config: dict[str, Any] | None = None,
        dispatcher: Dispatcher | None = None,
    ) -> None:
        super().__init__(dispatcher=dispatcher)
        self.ven_id = ven_id
        self.controller = controller
        self.clock = clock  # epoch seconds: simulated in a scenario, wall time when live
        self.skew_s = 0.0  # how far this VEN's clock is off (a clock_skew fault)
        self.topics = contract.topics(ven_id)
        self.config = _full_config(config)
        self.acks = AckCache()
        self.pending: dict[str, Command] = {}  # event correlationId -> command
        self.ended = RecentItems(ENDED_REMEMBERED)
        self.listeners: list[pykka.ActorRef[Any]] = []
        self.latest: Telemetry | None = None
        self._latest_loads: bytes | None = None  # its `loads` as published, when it was
        self.connection: Connection | None = None
        self.connected = False
        self.last_publish_epoch: float | None = None
        self.published = 0
        self.errors = 0

    # -- lifecycle ------------------------------------------------------------
    def on_start(self) -> None:
        self.controller.tell(Subscribe(self.actor_ref, loads=True))

    # Every telemetry, command and event answer: handled without pykka's generic dispatch.
    receives = {Telemetry: "_on_telemetry", Inbound: "_on_inbound", EventAck: "_on_event_ack",
                EventEnded: "_on_event_ended"}

    # -- messages ---------------------------------------------------------------
    def on_receive(self, message: Any) -> Any:
        if isinstance(message, Attach):
            self.connection = message.connection
            self.connected = message.connection.connected
            self.connection.subscribe(self.topics.command)
        elif isinstance(message, LinkState):
            self.connected = message.connected
            for ref in self.listeners:
                ref.tell(message)
            if not message.connected:
                logger.warning("%s: MQTT connection lost: %s", self.ven_id, message.reason)
        elif isinstance(message, Subscribe):
            self.listeners.append(message.ref)
            message.ref.tell(LinkState(self.connected))  # where the link stands now
        elif isinstance(message, ClockSkew):
            self.skew_s = message.offset_s
        elif isinstance(message, ConfigChanged):  # from the shadow syncer's delta
            self.config = {**self.config, **message.config}
        else:
            return super().on_receive(message)
        return None

    def _on_telemetry(self, telemetry: Telemetry) -> None:
        self.latest, self._latest_loads = telemetry, None
        # What the listeners hear: the telemetry, with its loads' text once published (the
        # shadow's report need not write them again). They hear it whatever happens below:
        # held back (the controller reports more often than asked for), or refused.
        heard: Telemetry | TelemetrySent = telemetry
        try:
            interval = float(self.config["report_interval_seconds"])
            last = self.last_publish_epoch
            if last is not None and telemetry.epoch - last < interval - 1e-6:
                return
            self.last_publish_epoch = telemetry.epoch
            # Stamped by this VEN's wrong clock under a clock_skew fault; what it measured is
            # the same.
            stamp = int(round(telemetry.epoch + self.skew_s)) if self.skew_s else None
            payload = contract.telemetry_json(telemetry, stamp)
            loads = contract.telemetry_loads(payload)
            if loads is not None:  # kept and told as the text alone: as rows too, 2 KB a VEN
                telemetry = telemetry._replace(loads=())
                self.latest, self._latest_loads = telemetry, loads
            heard = TelemetrySent(telemetry, loads)
        finally:
            for ref in self.listeners:
                ref.tell(heard)
        for topic in self.topics.telemetry_out:
            self._publish(topic, payload)

    def _now(self) -> float:
        """This VEN's clock: true time unless a clock_skew fault puts it off."""
        return self.clock() + self.skew_s

    # -- commands -----------------------------------------------------------------
    def _on_inbound(self, message: Inbound) -> None:
        self._on_command(message.payload)

    def _on_command(self, raw: bytes) -> None:
        command = commands.parse_command(raw, self.ven_id)
        if isinstance(command, CommandError):
            self.errors += 1
            logger.info("%s: bad command: %s", self.ven_id, command.error)
            if command.correlation_id is not None:
                self._send_ack(
                    contract.error_ack_payload(command, ven_id=self.ven_id, ts=self._now())
                )
            return
        cid = command.correlation_id
        pending = self.pending.get(cid)
        cached = self.acks.get(cid)
        # The earlier command's digest only for a correlationId seen before (rarely).
        seen = pending is not None or cached is not None
        if seen and (pending.digest if pending is not None
                     else self.acks.digest(cid)) != command.digest:
            self.errors += 1  # not cached: the first command's ack stays the answer
            error = contract.ack_payload(
                command, ven_id=self.ven_id, ts=self._now(), status="error",
                error=f"correlationId {cid!r} was already used for another command",
            )
            self._publish(self.topics.ack, contract.encode(error))
            return
        if pending is not None:
            return  # a redelivery of a command in progress: its ack is on the way
        if cached is not None:  # a repeat: answered again, not applied again
            self._publish(self.topics.ack, cached)
            return
        handler = getattr(self, f"_op_{command.op}", None)
        if handler is None:  # the codec knows more ops than this VEN implements
            self._ack(command, status="error", error=f"op {command.op} is not supported")
            return
        handler(command)

    def _op_ping(self, command: Command) -> None:
        self._ack(command)

    def _op_event(self, command: Command) -> None:
        self.pending[command.correlation_id] = command
        self.controller.tell(commands.start_event(command))

    def _op_shedPanel(self, command: Command) -> None:  # noqa: N802 - the op's name
        self.pending[command.correlation_id] = command
        self.controller.tell(commands.shed_panel(command))

    def _op_restore(self, command: Command) -> None:
        self.pending[command.correlation_id] = command
        self.controller.tell(commands.end_event(command))

    def _op_shedLoad(self, command: Command) -> None:  # noqa: N802
        data = command.data
        if not self._known_load(command, data["loadId"]):
            return
        self.controller.tell(
            ShedLoad(data["loadId"], float(data["reduceKw"]), float(data["durationS"]))
        )
        self._ack(command, data=dict(data))

    def _op_setLoad(self, command: Command) -> None:  # noqa: N802
        if not self._known_load(command, command.data["loadId"]):
            return
        message: SetLoad = commands.set_load(command)
        self.controller.tell(message)
        self._ack(command, data=dict(command.data))

    def _op_set(self, command: Command) -> None:
        settings = {k: v for k, v in command.data.items() if k in commands.SETTINGS}
        self.config = {**self.config, **settings}
        for ref in self.listeners:
            ref.tell(ConfigChanged(dict(self.config)))
        ignored = command.data.get("ignored")
        self._ack(command, data={**self.config, **({"ignored": ignored} if ignored else {})})

    _op_setConfig = _op_set  # noqa: N815 - the backend sends both names

    def _op_get(self, command: Command) -> None:
        what = command.data["what"]
        if what == "config":
            data: dict[str, Any] = dict(self.config)
        elif self.latest is None:
            data = {"status": "starting"}
        elif what == "loads":
            data = {"loads": self._latest_rows()}
        else:
            data = {k: v for k, v in contract.telemetry_payload(self.latest).items()
                    if k != "loads"}
            data["connected"] = self.connected
        self._ack(command, data=data)

    def _latest_rows(self) -> list[dict[str, Any]]:
        """The latest telemetry's load rows as the wire has them (read back if published)."""
        if self._latest_loads is not None:
            return contract.loads_rows(self._latest_loads)
        return contract.telemetry_payload(self.latest)["loads"] if self.latest else []

    def _known_load(self, command: Command, load_id: str) -> bool:
        if self.latest is None or any(row["id"] == load_id for row in self._latest_rows()):
            return True
        self._ack(command, status="error", error=f"unknown loadId {load_id!r}")
        return False

    # -- acks ---------------------------------------------------------------------
    def _on_event_ack(self, ack: EventAck) -> None:
        command = self.pending.pop(ack.correlation_id or "", None)
        for ref in self.listeners:
            ref.tell(ack)
        if command is not None:
            self._send_ack(contract.event_ack_payload(command, ack, ts=self._now()),
                           command.digest)

    def _on_event_ended(self, ended: EventEnded) -> None:
        for ref in self.listeners:
            ref.tell(ended)
        command = self.pending.pop(ended.correlation_id or "", None)
        if ended.found:
            self.ended.append(ended.event_id)
        if command is None:
            return
        # Restore is idempotent: the backend sends it to every online VEN after the end.
        if ended.found:
            state = "ended"
        elif ended.event_id in self.ended:
            state = "already_ended"
        else:
            state = "unknown_event"
        self._ack(command, data={"event_id": ended.event_id, "state": state})

    def _ack(self, command: Command, *, status: str = "success", **extra: Any) -> None:
        payload = contract.ack_payload(
            command, ven_id=self.ven_id, ts=self._now(), status=status, **extra
        )
        self._send_ack(payload, command.digest)

    def _send_ack(self, payload: dict[str, Any], digest: str = "") -> None:
        try:
            raw = contract.encode_ack(payload)
        except ValueError as exc:  # over 128 KB: say so rather than stay silent
            logger.warning("%s: ack for %s not sent: %s", self.ven_id, payload.get("op"), exc)
            failed = CommandError(payload.get("correlationId"), payload.get("op"),
                                  f"the ack could not be sent: {exc}")
            payload = contract.error_ack_payload(failed, ven_id=self.ven_id, ts=self._now())
            raw = contract.encode(payload)
        self.acks.put(payload.get("correlationId"), raw, digest)
        self._publish(self.topics.ack, raw)

    def _publish(self, topic: str, payload: bytes) -> None:
        if self.connection is not None:
            self.connection.publish(topic, payload)
            self.published += 1
