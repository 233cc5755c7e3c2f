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
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from actors.live_state import LiveState, LiveStateActor
from actors.messages import (
    EndEvent,
    SetLoad,
    SetPanel,
    StartEvent,
    Subscribe,
    Tick,
)
from actors.runtime import Dispatcher
from actors.ven import Ven
from sim.limits import PANEL_SIZES, PANEL_SIZES_TEXT
from sim.models.house import build_circuits
from sim.scenario import sample_params
from sim.world import Weather, World
from ven_sim.kernel import Kernel
from ven_sim.wire import Wire

logger = logging.getLogger(__name__)

TICK_S = 1.0  # metering step; the gateway decides what gets published
FIRST_TICK_S = 0.2
PHYSICS_STEP_S = 60.0  # the house physics steps once a minute, so power moves in steps


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
        # The one live VEN shows every kind of circuit: an EV unless its config says otherwise.
        params = {"has_ev": True, **sample_params(config.params, rng),
                  "panel_amps": config.panel_amps}
        circuits = build_circuits(config.template, params, rng)
        self.circuit_ids = [c.id for c in circuits]
        self.physics_step_s = PHYSICS_STEP_S
        self.state = LiveState()
        self.ven = Ven(
            config.thing_name,
            circuits,
            self.world,
            self.dispatcher,
            panel_amps=config.panel_amps,
            physics_step_s=PHYSICS_STEP_S,
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
        """Ask `run` to return, even one that has not begun yet.

        Any thread, and signal-safe (the `live` command's SIGINT/SIGTERM handler calls
        it): `Kernel.stop` only sets a flag, it takes no lock.
        """
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
        self.ven.tell(StartEvent(event_id, float(requested_kw), float(duration_s)))
        return event_id

    def restore_event(self, event_id: str) -> None:
        self.ven.tell(EndEvent(event_id))

    def set_panel(self, amps: int) -> None:
        if amps not in PANEL_SIZES:
            raise ValueError(f"panel amperage must be {PANEL_SIZES_TEXT}")
        self.ven.tell(SetPanel(amps))
