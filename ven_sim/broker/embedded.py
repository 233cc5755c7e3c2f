"""An embedded MQTT broker (amqtt) with a mutual-TLS listener, run on its own thread and loop.

Two amqtt 0.12 behaviours do not fit an AWS IoT Core stand-in, so `_IoTBroker` overrides them:

- `Broker._create_ssl_context` hard-codes `verify_mode = CERT_OPTIONAL`: a client without a
  certificate is let in. AWS IoT requires one, so the override sets `CERT_REQUIRED`.
- `Broker._handle_message_delivery` drops the connection of any client that publishes to a topic
  starting with `$` (its reading of MQTT-4.7.2-1). AWS reserves `$aws/...` for clients to publish
  to (shadow get/update/delete), so publishes under `$aws/` are delivered instead.

Both hooks are private amqtt methods, hence the `amqtt>=0.12,<0.13` pin in setup.cfg.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
import threading
from pathlib import Path
from typing import Any

from amqtt.broker import Broker
from amqtt.contexts import Action, ListenerConfig
from amqtt.events import BrokerEvents
from amqtt.mqtt.protocol.broker_handler import BrokerProtocolHandler
from amqtt.session import Session

from ven_sim.certs.local_ca import DEFAULT_HOSTNAMES, CertPaths, LocalCA

log = logging.getLogger(__name__)

AWS_RESERVED_PREFIX = "$aws/"
TLS_LISTENER = "mtls"
ANONYMOUS_AUTH = "amqtt.plugins.authentication.AnonymousAuthPlugin"
# amqtt copies unset fields of every listener from the one named "default", so the plain
# listener (or an unbound placeholder) takes that name and the TLS one gets its own.
PLAIN_LISTENER = "default"


class _IoTBroker(Broker):
    """amqtt's Broker with client certificates required and `$aws/` publishes allowed."""

    require_client_cert = True

    def _create_ssl_context(self, listener: ListenerConfig) -> ssl.SSLContext:  # type: ignore[override]
        context = Broker._create_ssl_context(listener)
        if self.require_client_cert:
            context.verify_mode = ssl.CERT_REQUIRED
        return context

    async def _delete_session(self, client_id: str) -> None:
        # A clean-session CONNECT with a client ID already in use: like AWS IoT and
        # mosquitto, drop the old connection (the client sees rc=7). amqtt 0.12 only
        # forgets its session and leaves that connection silently deaf.
        session, handler = self._sessions.get(client_id, (None, None))
        if session is not None and session.transitions.is_connected():
            # Said as mosquitto says it: an rc=7 on a client is then a takeover, not a drop.
            log.warning("client %s already connected, closing old connection", client_id)
        if handler is not None:
            with contextlib.suppress(Exception):
                await handler.handle_connection_closed()
                await handler.stop()
        await super()._delete_session(client_id)

    async def _handle_message_delivery(
        self,
        client_session: Session,
        handler: BrokerProtocolHandler,
        wait_deliver: asyncio.Future[Any],
    ) -> bool:
        message = wait_deliver.result()
        topic = getattr(message, "topic", None) or ""
        if not topic.startswith(AWS_RESERVED_PREFIX) or "+" in topic or "#" in topic:
            return await super()._handle_message_delivery(client_session, handler, wait_deliver)
        # Same steps as amqtt's own path after its `$` check: events, ACL, broadcast, retain.
        await self.plugins_manager.fire_event(
            BrokerEvents.MESSAGE_RECEIVED, client_id=client_session.client_id, message=message
        )
        if await self._topic_filtering(client_session, topic=topic, action=Action.PUBLISH):
            await self.plugins_manager.fire_event(
                BrokerEvents.MESSAGE_BROADCAST, client_id=client_session.client_id, message=message
            )
            await self._broadcast_message(client_session, topic, message.data)
            if message.publish_packet and message.publish_packet.retain_flag:
                await self.retain_message(client_session, topic, message.data, message.qos)
        return True

    async def close_listeners(self) -> None:
        """Close whatever a failed start() had already opened."""
        for server in self._servers.values():
            await server.close_instance()

    def bound_port(self, listener: str) -> int:
        server = self._servers[listener].instance
        return int(server.sockets[0].getsockname()[1])


class EmbeddedBroker:
    """amqtt on a background thread: a TLS listener (mTLS by default), optionally plain TCP too.

    `port=0` (and `plain_port=0`) pick a free port; read the real one from `port` after start().
    """

    def __init__(
        self,
        ca: LocalCA,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        require_client_cert: bool = True,
        plain_port: int | None = None,
        hostnames: tuple[str, ...] = DEFAULT_HOSTNAMES,
    ) -> None:
        self.ca = ca
        self.host = host
        self.require_client_cert = require_client_cert
        self._want_port = port
        self._want_plain_port = plain_port
        # The server certificate must name the address clients dial; a wildcard bind names nothing.
        wildcard = host in ("0.0.0.0", "::", "")
        self._hostnames = hostnames if host in hostnames or wildcard else (*hostnames, host)
        self._port: int | None = None
        self._plain_port: int | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._broker: _IoTBroker | None = None

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("broker not started")
        return self._port

    @property
    def plain_port(self) -> int | None:
        return self._plain_port

    @property
    def url(self) -> str:
        return f"mqtts://{self.host}:{self.port}"

    @property
    def plain_url(self) -> str | None:
        return None if self._plain_port is None else f"mqtt://{self.host}:{self._plain_port}"

    @property
    def ca_path(self) -> Path:
        return self.ca.ca_path

    def client_cert(self, client_id: str) -> CertPaths:
        """A client certificate from this broker's CA (shortcut for `ca.client_cert`)."""
        return self.ca.client_cert(client_id)

    @property
    def running(self) -> bool:
        return self._broker is not None

    def config(self) -> dict[str, Any]:
        """The amqtt broker configuration (creates the server certificate if needed)."""
        server = self.ca.server_cert(self._hostnames)
        plain: dict[str, Any] = {"type": "tcp", "bind": None}
        if self._want_plain_port is not None:
            plain["bind"] = f"{self.host}:{self._want_plain_port}"
        tls = {
            "type": "tcp",
            "bind": f"{self.host}:{self._want_port}",
            "ssl": True,
            "cafile": str(server.ca),
            "certfile": str(server.cert),
            "keyfile": str(server.key),
        }
        return {
            "listeners": {PLAIN_LISTENER: plain, TLS_LISTENER: tls},
            # Only anonymous auth: identity is the client certificate, as on AWS IoT.
            "plugins": {ANONYMOUS_AUTH: {"allow_anonymous": True}},
        }

    def start(self, timeout: float = 10.0) -> EmbeddedBroker:
        """Start listening; returns once the listeners accept connections."""
        if self._thread is not None:
            raise RuntimeError("broker already started")
        config = self.config()
        loop = asyncio.new_event_loop()
        thread = threading.Thread(target=loop.run_forever, name="embedded-broker", daemon=True)
        thread.start()
        self._loop, self._thread = loop, thread
        try:
            future = asyncio.run_coroutine_threadsafe(self._start(config), loop)
            future.result(timeout)
        except BaseException:
            self._stop_loop()
            raise
        log.info("embedded broker listening on %s", self.url)
        return self

    async def _start(self, config: dict[str, Any]) -> None:
        broker = _IoTBroker(config, loop=asyncio.get_running_loop())
        broker.require_client_cert = self.require_client_cert
        try:
            await broker.start()
        except BaseException:
            await broker.close_listeners()
            raise
        self._broker = broker
        self._port = broker.bound_port(TLS_LISTENER)
        if self._want_plain_port is not None:
            self._plain_port = broker.bound_port(PLAIN_LISTENER)

    def stop(self, timeout: float = 10.0) -> None:
        """Disconnect every client, close the listeners and end the thread. Safe to call twice."""
        if self._loop is None:
            return
        broker, self._broker = self._broker, None
        if broker is not None:
            future = asyncio.run_coroutine_threadsafe(broker.shutdown(), self._loop)
            try:
                future.result(timeout)
            except Exception:  # noqa: BLE001 - a failed shutdown must not keep the thread alive
                log.exception("embedded broker shutdown failed")
        self._stop_loop(timeout)

    def _stop_loop(self, timeout: float = 10.0) -> None:
        loop, thread = self._loop, self._thread
        self._loop = self._thread = None
        if loop is None or thread is None:
            return
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout)
        if not thread.is_alive():
            loop.close()

    def __enter__(self) -> EmbeddedBroker:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
