"""The shadow service's lag, as a VEN sees it: how long a shadow update waits for its
`update/accepted`.

The service stamps nothing on the wire, so the bench measures the lag the way a VEN meets it:
a client of its own (`ShadowReplyProbe`, in the bench's process, at normal priority) publishes
a small update to a thing of its own every `PROBE_INTERVAL_S` and times each `update/accepted`
(matched by clientToken). Its requests reach the service through the same broker queue and
the same connection as the VENs' reports, in order, so each waits behind every report queued
before it: its round trip is the service's queue plus its work, what a VEN's report sent at
that moment waits (less the VEN's own loop, which is the fleet's, not the service's).

It also follows the commands of the first VEN (`bench-000000`): the fan-out's event and its
restore mark the window in which the fleet sends the fan-out's shadow reports, from the
event's dispatch to the restore's last ack (the restore's arrival plus the restore's max from
fleet.json); `figures` gives the lag over the whole run and over the requests sent in that
window.
"""

from __future__ import annotations

import json
import threading
import time
from types import TracebackType
from typing import Any

import paho.mqtt.client as mqtt

from sim.contract import shadow_topic, topics
from ven_sim.broker.mosquitto import Mosquitto
from ven_sim.fleet.histogram import Histogram
from ven_sim.fleet.probe import FANOUT_KINDS, WIRE_OP
from ven_sim.transports.mqtt import BrokerURL, TlsFiles, connect, make_client

__all__ = ["PROBE_INTERVAL_S", "PROBE_THING", "ShadowReplyProbe"]

PROBE_INTERVAL_S = 0.1  # 10 requests/s: half AWS's per-thing rate, a trifle beside a fleet's
PROBE_THING = "bench-shadow-probe"  # not a VEN's ID (those are bench-NNNNNN)
QUANTILES = ("p50", "p99", "max")
DRAIN_S = 30.0  # at the end, how long the last requests' answers are waited for
# The probe's command ids of the fan-out's event and its restore: "{kind}-..." (ProbeVtn).
FANOUT_PREFIXES = {f"{kind}-": WIRE_OP[kind] for kind in FANOUT_KINDS}


class ShadowReplyProbe:
    """Times the service's `update/accepted` to small updates of its own, on `mosquitto`."""

    def __init__(self, mosquitto: Mosquitto, first_ven: str) -> None:
        self._url = BrokerURL.parse(mosquitto.url)
        self._tls = TlsFiles.from_paths(mosquitto.client_cert(PROBE_THING))
        self._watched = topics(first_ven).command
        self._lock = threading.Lock()
        self._sent: dict[str, float] = {}  # clientToken -> monotonic send time, until answered
        self._lags: list[tuple[float, float]] = []  # (sent at, ms to update/accepted)
        self._fanout: dict[str, float] = {}  # "event" / "restore" -> when the first VEN got it
        self._stop = threading.Event()
        self._sender: threading.Thread | None = None
        self._client: mqtt.Client | None = None

    def __enter__(self) -> ShadowReplyProbe:
        client = make_client(PROBE_THING, self._url, self._tls)  # the thing's name as client ID
        client.on_message = self._on_message
        connect(client, self._url)
        accepted = shadow_topic(PROBE_THING, "update/accepted")
        subscribed = threading.Event()
        client.on_subscribe = lambda *_args: subscribed.set()
        client.subscribe([(accepted, 1), (self._watched, 1)])
        if not subscribed.wait(10):
            client.disconnect()
            client.loop_stop()
            raise RuntimeError("the shadow probe's subscriptions were not acknowledged")
        self._client = client
        self._sender = threading.Thread(target=self._send_loop, name="shadow-probe", daemon=True)
        self._sender.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self._stop.set()
        if self._sender is not None:
            self._sender.join()
        # The last requests' answers, which a lagging service may still owe.
        deadline = time.monotonic() + DRAIN_S
        while self._outstanding() and time.monotonic() < deadline:
            time.sleep(0.05)
        if self._client is not None:
            self._client.disconnect()
            self._client.loop_stop()

    def _outstanding(self) -> int:
        with self._lock:
            return len(self._sent)

    def _send_loop(self) -> None:
        assert self._client is not None
        topic = shadow_topic(PROBE_THING, "update")
        count = 0
        next_at = time.monotonic()
        while not self._stop.wait(max(0.0, next_at - time.monotonic())):
            count += 1
            token = f"probe-{count}"
            request = {"state": {"reported": {"probe": count}}, "clientToken": token}
            with self._lock:
                self._sent[token] = time.monotonic()
            self._client.publish(topic, json.dumps(request).encode(), qos=1)
            next_at += PROBE_INTERVAL_S

    def _on_message(self, _client: mqtt.Client, _userdata: Any,
                    message: mqtt.MQTTMessage) -> None:
        now = time.monotonic()
        if message.topic == self._watched:
            correlation_id = json.loads(message.payload).get("correlationId", "")
            for prefix, kind in FANOUT_PREFIXES.items():
                if correlation_id.startswith(prefix):
                    with self._lock:
                        self._fanout.setdefault(kind, now)
            return
        token = json.loads(message.payload).get("clientToken")
        with self._lock:
            sent = self._sent.pop(token, None)
            if sent is not None:
                self._lags.append((sent, (now - sent) * 1000.0))

    def figures(self, restore_max_ms: float | None) -> dict[str, Any]:
        """`shadow_reply_ms` {p50, p99, max, requests, unanswered} over the run, and under
        `fanout` the same over the requests sent in the fan-out's window (None when no
        fan-out was seen): `restore_max_ms` is the restore's slowest ack, from fleet.json."""
        with self._lock:
            lags, unanswered, marks = list(self._lags), len(self._sent), dict(self._fanout)
        figures = _summary(lag for _, lag in lags)
        figures["unanswered"] = unanswered
        figures["interval_ms"] = PROBE_INTERVAL_S * 1000.0
        figures["fanout"] = None
        if "event" in marks and "restore" in marks and restore_max_ms is not None:
            opens, closes = marks["event"], marks["restore"] + restore_max_ms / 1000.0
            figures["fanout"] = {
                **_summary(lag for sent, lag in lags if opens <= sent <= closes),
                "window_s": round(closes - opens, 2),
            }
        return figures


def _summary(lags: Any) -> dict[str, Any]:
    histogram = Histogram()
    for lag in lags:
        histogram.add(lag)
    return {**histogram.summary(*QUANTILES), "requests": histogram.count}
