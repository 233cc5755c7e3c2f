"""The AWS IoT device shadow MQTT protocol (classic unnamed shadow) as a client of any broker.

It subscribes to `$aws/things/+/shadow/{get,update,delete}` and answers on the same topics with
`/accepted`, `/rejected`, `/delta` and `/documents` appended, as AWS IoT Core does. It also
follows `ven/status/+`, where a VEN's Last Will lands, and marks that VEN's shadow offline,
as an AWS IoT rule republishing the will to the shadow would. The
document rules live in `shadow_doc` and `shadow_store` beside it; this is only the MQTT
plumbing.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt

from sim.contract import PRESENCE_FILTER, SHADOW_REQUEST_FILTERS, shadow_request, shadow_topic
from ven_sim.broker.shadow_doc import SHADOW_CLIENT_ID, reply_json
from ven_sim.broker.shadow_store import ShadowStore
from ven_sim.transports.lean_client import LeanClient
from ven_sim.transports.mqtt import BrokerURL, MQTTConnectError, TlsFiles, connect, make_client

log = logging.getLogger(__name__)


class ShadowService:
    """Answers shadow requests from one paho client on paho's own network thread."""

    def __init__(
        self,
        url: BrokerURL | str,
        tls: TlsFiles | None = None,
        *,
        store: ShadowStore | None = None,
        persist_path: str | Path | None = None,
        client_id: str = SHADOW_CLIENT_ID,
    ) -> None:
        if store is not None and persist_path is not None:
            raise ValueError("pass either store or persist_path, not both")
        self.url = BrokerURL.parse(url) if isinstance(url, str) else url
        self.tls = tls
        self.store = store if store is not None else ShadowStore(persist_path)
        self.client_id = client_id
        self._client: LeanClient | None = None
        self._subscribed = threading.Event()
        self._sub_error: str | None = None

    def start(self, timeout: float = 10.0) -> ShadowService:
        """Connect and subscribe; returns once the broker acknowledged the subscriptions."""
        if self._client is not None:
            raise RuntimeError("shadow service already started")
        # The fleet's client: lighter QoS 1 publishes and PUBACKs, whole packets read at
        # once, lighter incoming publishes (every update is read, and answered with two or
        # three QoS 1 publishes).
        client = make_client(self.client_id, self.url, self.tls, client_class=LeanClient)
        client.read_whole_packets()
        client.light_incoming_publishes()
        client.on_connect = self._on_connect
        client.on_subscribe = self._on_subscribe
        client.on_message = self._on_message
        self._subscribed.clear()
        connect(client, self.url, timeout)
        self._client = client
        if not self._subscribed.wait(timeout) or self._sub_error:
            self.stop()
            reason = self._sub_error or f"no SUBACK within {timeout:g} s"
            raise MQTTConnectError(f"{self.url}: cannot subscribe to shadow topics: {reason}")
        log.info("shadow service connected to %s", self.url)
        return self

    def stop(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            client.disconnect()
            client.loop_stop()

    def __enter__(self) -> ShadowService:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- paho callbacks (network thread) -------------------------------------------------------

    def _on_connect(self, client: mqtt.Client, _u: Any, _f: Any, rc: Any, _p: Any) -> None:
        # Also runs after paho reconnects: clean sessions forget subscriptions.
        if not rc.is_failure:
            client.subscribe([(topic, 1) for topic in (*SHADOW_REQUEST_FILTERS, PRESENCE_FILTER)])

    def _on_subscribe(self, _c: mqtt.Client, _u: Any, _mid: int, codes: list[Any], _p: Any) -> None:
        failed = [str(code) for code in codes if code.is_failure]
        self._sub_error = ", ".join(failed) or None
        self._subscribed.set()

    def _on_message(self, client: mqtt.Client, _u: Any, message: mqtt.MQTTMessage) -> None:
        # An exception escaping a callback would end paho's thread: log it and carry on.
        try:
            self._answer(client, message.topic, message.payload)
        except Exception:
            log.exception("shadow request on %s failed", message.topic)

    def _answer(self, client: mqtt.Client, topic: str, payload: bytes) -> None:
        request = shadow_request(topic)
        if request is None:  # a presence message (a Last Will): the rule AWS would run
            replies = self.store.presence(topic, payload)
        else:
            thing, operation = request
            replies = [(thing, suffix, body)
                       for suffix, body in self.store.handle(thing, operation, payload)]
        for thing, suffix, body in replies:
            # ASCII (json.dumps escapes the rest): bytes take LeanClient's QoS 1 path.
            client.publish(shadow_topic(thing, suffix), reply_json(body).encode(), qos=1)
