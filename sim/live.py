"""One VEN in real time: the long-running process behind `ven-sim live`.

The same actors as a scenario (controller, circuits, gateway, shadow syncer)
on the same kernel, paced at speed 1: the kernel ticks the VEN every second,
the gateway publishes telemetry every `report_interval_seconds` (5 by default,
changeable by the backend), and other threads (the web UI, signal handlers)
hand work in with plain `tell`s (thread-safe) and `kernel.stop()`.
"""

from __future__ import annotations

import logging
import math
import random
import threading
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from actors.messages import (
    EndEvent,
    EventAck,
    EventEnded,
    LinkState,
    SetLoad,
    SetPanel,
    StartEvent,
    Subscribe,
    Telemetry,
    Tick,
)
from actors.runtime import DispatchedActor, Dispatcher
from actors.ven import Ven
from iot import contract
from sim.kernel import Kernel
from sim.models.house import build_circuits
from sim.scenario import Weather, sample_params
from sim.wire import Wire
from sim.world import World

logger = logging.getLogger(__name__)

TICK_S = 1.0  # physics and metering step; the gateway decides what gets published
FIRST_TICK_S = 0.2
HISTORY_POINTS = 1800  # the web chart's memory: 30 minutes of one-second reports


@dataclass
class LiveConfig:
    thing_name: str
    panel_amps: int = 200
    template: str = "house"
    params: dict[str, Any] = field(default_factory=dict)
    seed: int = 0
    weather: Weather = field(
        default_factory=lambda: Weather(min_c=22.0, max_c=35.0, peak_hour=15.0, cloud_cover=0.1)
    )
    report_interval_seconds: float = 5.0


class LiveState:
    """What the web UI shows: a thread-safe snapshot kept by `LiveStateActor`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.telemetry: dict[str, Any] | None = None
        self.history: deque[dict[str, Any]] = deque(maxlen=HISTORY_POINTS)
        self.events: dict[str, dict[str, Any]] = {}  # active events by id
        self.last_event: dict[str, Any] | None = None
        self.connected = False
        self.link_reason: str | None = None

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "telemetry": self.telemetry,
                "history": list(self.history),
                "events": list(self.events.values()),
                "lastEvent": self.last_event,
                "connected": self.connected,
                "linkReason": self.link_reason,
            }

    def update(self, fn) -> None:
        with self._lock:
            fn(self)


class LiveStateActor(DispatchedActor):
    """Listens to the gateway and keeps `LiveState` current for the web UI."""

    def __init__(self, state: LiveState, dispatcher: Dispatcher) -> None:
        super().__init__(dispatcher=dispatcher)
        self.state = state

    def on_receive(self, message: Any) -> Any:
        if isinstance(message, Telemetry):
            payload = contract.telemetry_payload(message)
            point = {
                "ts": payload["timestamp"],
                "usedKw": payload["usedPowerKw"],
                "baselineKw": payload["baselinePowerKw"],
                "shedKw": payload["shedPowerKw"],
            }

            def record(s: LiveState) -> None:
                s.telemetry = payload
                s.history.append(point)

            self.state.update(record)
        elif isinstance(message, EventAck):
            event = {
                "eventId": message.event_id,
                "requestedKw": message.requested_kw,
                "actualShedKw": round(message.actual_shed_kw, 3),
                "circuits": list(message.circuits),
            }
            self.state.update(lambda s: s.events.__setitem__(message.event_id, event))
        elif isinstance(message, EventEnded):

            def ended(s: LiveState) -> None:
                s.events.pop(message.event_id, None)
                if message.found:
                    s.last_event = {
                        "eventId": message.event_id,
                        "deliveredKw": round(message.delivered_kw, 3),
                        "deliveredKwh": round(message.delivered_kwh, 3),
                        "endTs": int(message.end_epoch),
                    }

            self.state.update(ended)
        elif isinstance(message, LinkState):
            self.state.update(lambda s: _link(s, message))
        else:
            return super().on_receive(message)
        return None


def _link(state: LiveState, message: LinkState) -> None:
    state.connected = message.connected
    state.link_reason = message.reason


class LiveVen:
    """Builds and runs one real-time VEN on `wire` until `stop()`."""

    def __init__(self, config: LiveConfig, wire: Wire, *, now: datetime | None = None) -> None:
        self.config = config
        self.wire = wire
        self.dispatcher = Dispatcher(f"live-{config.thing_name}")
        self.kernel = Kernel(1.0, self.dispatcher)
        start = (now or datetime.now(UTC)).replace(microsecond=0)
        self.world = World(start, config.weather)
        rng = random.Random(f"{config.seed}:{config.thing_name}")
        params = {**sample_params(config.params, rng), "panel_amps": config.panel_amps}
        circuits = build_circuits(config.template, params, rng)
        self.circuit_ids = [c.id for c in circuits]
        self.state = LiveState()
        self.ven = Ven(
            config.thing_name,
            circuits,
            self.world,
            self.dispatcher,
            panel_amps=config.panel_amps,
            physics_step_s=60.0,
            seed=config.seed,
            transport=wire.transport,
            clock=lambda: self.world.epoch(self.kernel.now),
            config={"report_interval_seconds": config.report_interval_seconds},
        )
        assert self.ven.gateway is not None
        self.state_actor = LiveStateActor.start(self.state, self.dispatcher)
        self.ven.gateway.tell(Subscribe(self.state_actor))
        self._local_events = 0

    # -- running -------------------------------------------------------------------
    def run(self, seconds: float = math.inf) -> None:
        """Tick in real time until `stop()` (or `seconds`), then shut down cleanly."""
        self.kernel.env.process(self._ticks())
        try:
            self.kernel.run(seconds)
        finally:
            self._shutdown()

    def stop(self) -> None:
        """Ask `run` to return (any thread; signal handlers call this)."""
        self.kernel.stop()

    def _ticks(self):
        env = self.kernel.env
        # A first report soon after start (buffered until the broker accepts us), so
        # telemetry is out within a second of the connection; then one a second.
        yield env.timeout(FIRST_TICK_S)
        while True:
            self.ven.tell(Tick(env.now))
            yield env.timeout(TICK_S)

    def _shutdown(self) -> None:
        self.state_actor.stop(block=False)
        self.ven.stop()  # the shadow syncer reports "offline" on its way out
        self.dispatcher.run_until_idle()
        self.ven.close()

    # -- controls for the web UI (any thread) --------------------------------------
    def set_circuit(self, circuit_id: str, enabled: bool) -> None:
        if circuit_id not in self.circuit_ids:
            raise KeyError(circuit_id)
        self.ven.tell(SetLoad(circuit_id, enabled=enabled))

    def trigger_event(self, requested_kw: float, duration_s: float) -> str:
        if not (requested_kw >= 0 and duration_s > 0):
            raise ValueError("requested kW must be >= 0 and duration > 0")
        self._local_events += 1
        event_id = f"local-{self._local_events}"
        self.ven.tell(StartEvent(event_id, float(requested_kw), 0.0, float(duration_s)))
        return event_id

    def restore_event(self, event_id: str) -> None:
        self.ven.tell(EndEvent(event_id))

    def set_panel(self, amps: int) -> None:
        if amps not in (100, 150, 200):
            raise ValueError("panel amperage must be 100, 150 or 200")
        self.ven.tell(SetPanel(amps))
