"""Assembling one VEN: a controller actor plus one actor per circuit."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pykka

from actors.circuit import CircuitActor
from actors.connection import Connection, Transport
from actors.controller import ControllerActor
from actors.gateway import GatewayActor
from actors.messages import AddCircuit, Attach, Inbound, LinkState, Subscribe
from actors.runtime import Dispatcher, stop_actors
from actors.shadow import ShadowSyncerActor
from sim import contract
from sim.curtailment import CircuitInfo
from sim.models.base import Circuit
from sim.occupants import Occupants
from sim.world import World

# One {circuit id: type} for every VEN whose house has the same circuits (a fleet: a few
# dozen kinds of house, 272 B a VEN each otherwise).
_circuit_types: dict[tuple[tuple[str, str], ...], dict[str, str]] = {}


class Ven:
    """Handles to the actors of one VEN.

    Start order: controller, circuits, then (with a transport) the MQTT gateway and the
    shadow syncer; `stop()` goes in reverse. With `counterfactual=False` its circuits keep no
    twins, so its Telemetry has no counterfactual (a load test, which keeps no M&V).
    """

    # A fleet holds thousands: no dict per VEN.
    __slots__ = ("ven_id", "group", "panel_amps", "circuit_types", "controller", "refs",
                 "gateway", "connection", "_routes")

    def __init__(
        self,
        ven_id: str,
        circuits: list[Circuit],
        world: World,
        dispatcher: Dispatcher,
        *,
        panel_amps: int,
        physics_step_s: float = 60.0,
        restore_stagger_s: float = 120.0,
        restore_window: tuple[float, float] | None = None,
        seed: int = 0,
        group: str = "",
        t0: float = 0.0,
        transport: Transport | None = None,
        clock: Callable[[], float] | None = None,
        shadow: bool = True,
        config: dict[str, Any] | None = None,
        occupants: Occupants | None = None,
        counterfactual: bool = True,
    ) -> None:
        self.ven_id = ven_id
        self.group = group
        self.panel_amps = panel_amps
        pairs = tuple((model.id, model.type) for model in circuits)
        self.circuit_types = _circuit_types.setdefault(pairs, dict(pairs))  # read only
        self.controller = ControllerActor.start(
            ven_id,
            world,
            panel_amps=panel_amps,
            restore_stagger_s=restore_stagger_s,
            restore_window=restore_window,
            seed=seed,
            t0=t0,
            dispatcher=dispatcher,
            occupants=occupants,
            counterfactual=counterfactual,
        )
        self.refs: list[pykka.ActorRef[Any]] = [self.controller]
        for model in circuits:
            ref = CircuitActor.start(
                model,
                world,
                self.controller,
                physics_step_s=physics_step_s,
                t0=t0,
                dispatcher=dispatcher,
            )
            self.controller.tell(AddCircuit(_info(model), ref))
            self.refs.append(ref)
        self.gateway: pykka.ActorRef[Any] | None = None
        self.connection: Connection | None = None
        if transport is not None:
            self._go_online(
                transport, clock or (lambda: world.epoch(0.0)), shadow, dispatcher, config
            )
        # Supervised as one: a VEN whose actors keep failing is isolated as a whole.
        dispatcher.supervisor.enlist(ven_id, self.refs)

    def _go_online(
        self,
        transport: Transport,
        clock: Callable[[], float],
        shadow: bool,
        dispatcher: Dispatcher,
        config: dict[str, Any] | None,
    ) -> None:
        """Start the gateway (and shadow syncer) and give them one shared connection.

        One connection per VEN, with the VEN id as client ID: AWS IoT's policy allows
        exactly that client ID, and a second connection with it would kick the first.
        """
        self.gateway = GatewayActor.start(
            self.ven_id, self.controller, clock=clock, config=config, dispatcher=dispatcher
        )
        self.refs.append(self.gateway)
        routes = [(contract.topics(self.ven_id).command, self.gateway)]
        if shadow:
            syncer = ShadowSyncerActor.start(
                self.ven_id, self.controller, self.gateway, dispatcher=dispatcher
            )
            self.refs.append(syncer)
            routes.append((contract.SHADOW_TOPIC_PREFIX, syncer))
        self._routes = tuple(routes)
        # The Last Will: if this process dies, the broker says so (the syncer cannot).
        # Bound methods, not closures: no function and cells of their own per VEN.
        self.connection = transport.open(self.ven_id, self._on_message, self._on_state,
                                         will=contract.last_will(self.ven_id))
        for _, ref in self._routes:
            ref.tell(Attach(self.connection))

    def _on_message(self, topic: str, payload: bytes) -> None:
        for prefix, ref in self._routes:
            if topic.startswith(prefix):
                _tell_if_alive(ref, Inbound(topic, payload))
                return

    def _on_state(self, up: bool, reason: str | None) -> None:
        # The gateway passes it on to its subscribers (the shadow syncer among them).
        _tell_if_alive(self.gateway, LinkState(up, reason))  # type: ignore[arg-type]

    def subscribe(
        self, ref: pykka.ActorRef[Any], *, loads: bool = False, batches: bool = False
    ) -> None:
        """Tell `ref` this VEN's telemetry and event acks from now on (with `loads`, a row
        per circuit in each Telemetry; with `batches`, a batch of quiet intervals' Telemetry
        as one `TelemetryBatch`)."""
        self.controller.tell(Subscribe(ref, loads, batches))

    def tell(self, message: Any) -> None:
        self.controller.tell(message)

    def stop(self) -> None:
        """Ask the actors to stop, in reverse start order; then drive them and `close()`."""
        stop_actors(self.refs)

    def close(self) -> None:
        """Close the MQTT connection once the actors have stopped.

        Not an actor's job: the shadow syncer's last report ("offline") must be sent
        first, and a dispatcher decides the order in which stopping actors run.
        """
        if self.connection is not None:
            self.connection.close()


def _tell_if_alive(ref: pykka.ActorRef[Any], message: Any) -> None:
    # Messages still arrive while the VEN shuts down (the shadow's reply to the
    # "offline" report): they have nobody left to handle them. (try, not
    # contextlib.suppress: this runs on the network thread for every message in.)
    try:
        ref.tell(message)
    except pykka.ActorDeadError:
        return


def _info(model: Circuit) -> CircuitInfo:
    return CircuitInfo(
        id=model.id,
        name=model.name,
        breaker_amps=model.breaker_amps,
        critical=model.critical,
        priority=model.priority,
        enabled=model.enabled,
    )
