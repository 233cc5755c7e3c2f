"""ControllerActor: the VEN's hub: meters its circuits, runs DR events, reports.

Each `Tick(t)` asks every circuit to advance to `t` (a `tell`); the readings
come back as messages, and when the last one is in the controller closes the
interval: it updates its estimate of each circuit's natural draw, closes the
curtailment loop on its own shed estimate (never on M&V's baseline), ends events
that are due, restores circuits on their staggered schedule and, on report
ticks, tells its listeners a `Telemetry`.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from typing import Any

import pykka

from actors._circuit_orders import CircuitOrders
from actors.messages import (
    AddCircuit,
    Advance,
    AdvanceBatch,
    CircuitReading,
    EndEvent,
    EventAck,
    EventEnded,
    Fork,
    ReadingRound,
    SetLoad,
    SetPanel,
    ShedLoad,
    StartEvent,
    Subscribe,
    Telemetry,
    TelemetryBatch,
    Tick,
)
from actors.runtime import DispatchedActor, Dispatcher
from sim.comfort_tally import ComfortTally
from sim.curtailment import CircuitInfo, ShedPlanner, load_rows, restore_plan
from sim.models.base import breaker_amps_for
from sim.occupants import Occupants
from sim.shed_estimate import estimated_shed_kw
from sim.small_queues import ListQueue
from sim.ven_events import ActiveEvent
from sim.world import World


class ControllerActor(CircuitOrders, DispatchedActor):
    """Curtailment controller and meter of one VEN."""

    # One per VEN: 37 attributes in slots, not a dict of its own (1.6 KB; docs/benchmarks.md).
    __slots__ = ("occupants", "_left", "ven_id", "world", "panel_amps", "restore_stagger_s",
        "restore_window", "_seed", "circuits", "info", "listeners", "_single_listeners",
        "_batch_listeners", "_held", "planner", "events", "t", "_interval_start",
        "_interval_energy", "_interval_comfort", "_interval_twin", "_interval_twin_comfort",
        "_headroom", "_comfort", "_twins", "_counterfactual", "_pending", "_tick", "_deferred",
        "_restores", "_extras", "_soc_circuit", "_soc_looked_at", "_last_used_kw", "_manual",
        "_curtailed", "_want_loads")

    def __init__(
        self,
        ven_id: str,
        world: World,
        *,
        panel_amps: int,
        restore_stagger_s: float = 120.0,
        restore_window: tuple[float, float] | None = None,
        seed: int = 0,
        t0: float = 0.0,
        dispatcher: Dispatcher | None = None,
        occupants: Occupants | None = None,
        counterfactual: bool = True,
    ) -> None:
        super().__init__(dispatcher=dispatcher)
        self.occupants = occupants  # None: no one overrides (sim.occupants)
        self._left: set[str] = occupants.opted_out if occupants is not None else set()
        self.ven_id = ven_id
        self.world = world
        self.panel_amps = panel_amps
        self.restore_stagger_s = restore_stagger_s
        self.restore_window = restore_window  # None: one circuit per stagger (sim.curtailment)
        self._seed = seed
        self.circuits: dict[str, pykka.ActorRef[Any]] = {}
        self.info: dict[str, CircuitInfo] = {}
        self.listeners: list[pykka.ActorRef[Any]] = []
        # Of these, who takes Telemetry one by one, and who a batch at a time (the recorder).
        self._single_listeners: list[pykka.ActorRef[Any]] = []
        self._batch_listeners: list[pykka.ActorRef[Any]] = []
        self._held: list[Telemetry] | None = None  # a quiet batch's, for the batch listeners
        self.planner = ShedPlanner()
        self.events: dict[str, ActiveEvent] = {}
        self.t = t0  # time of the last completed tick
        self._interval_start = t0
        self._interval_energy = 0.0
        self._interval_comfort = 0.0
        # The circuits' twins: passed on for M&V, never used here.
        self._interval_twin = self._interval_twin_comfort = 0.0
        # What the circuits could shed at the latest reading (CircuitInfo.headroom_kw summed in
        # circuit order as _take takes them): 0, as sum() gives it, while there are none.
        self._headroom: float = 0
        self._comfort = ComfortTally()
        self._twins = False
        self._counterfactual = counterfactual  # False: no twins (a fleet keeps no M&V)
        self._pending = 0
        self._tick: Tick | None = None
        self._deferred = ListQueue()  # events that arrived mid-tick
        self._restores: list[tuple[float, str]] = []
        self._extras: dict[str, dict[str, Any]] = {}
        self._soc_circuit: str | None = None  # the battery's, once _battery_soc has seen it
        self._soc_looked_at = 0  # circuits with a state when _battery_soc last looked
        self._last_used_kw = 0.0
        self._manual: dict[str, float] = {}  # circuit id -> when its ShedLoad ends
        self._curtailed: set[str] = set()  # told a Curtail since their last Restore
        self._want_loads = False  # per-circuit rows cost time; only built if asked for

    # -- messages ---------------------------------------------------------------
    receives = {
        ReadingRound: "_on_round",
        Tick: "_on_tick",
        AddCircuit: "_on_add_circuit",
        Subscribe: "_on_subscribe",
        StartEvent: "_on_command",
        EndEvent: "_on_command",
        SetLoad: "_on_command",
        ShedLoad: "_on_command",
        SetPanel: "_on_command",
    }

    def _on_add_circuit(self, message: AddCircuit) -> None:
        self.circuits[message.info.id] = message.ref
        self.info[message.info.id] = message.info

    def _on_subscribe(self, message: Subscribe) -> None:
        self.listeners.append(message.ref)
        (self._batch_listeners if message.batches else self._single_listeners).append(message.ref)
        self._want_loads = self._want_loads or message.loads

    def _on_command(self, message: Any) -> None:
        # Events and settings wait for a tick in flight to close: they apply between ticks.
        if self._pending:
            self._deferred.append(message)
        else:
            self._apply(message)

    def _on_tick(self, tick: Tick) -> None:
        if self._pending:  # a tick still in flight: queue this one behind it
            self._deferred.append(tick)
            return
        if tick.earlier and not self._quiet():
            # Something to control between intervals: take them one at a time.
            singles = [Tick(t) for t in tick.earlier] + [Tick(tick.t, tick.report)]
            self._deferred.extendleft(reversed(singles[1:]))
            tick = singles[0]
        self._tick = tick
        if not self.circuits:
            self._close_tick()
            return
        # One round: every circuit puts its reading in, and the last one tells it back here.
        # Quiet intervals go as one batch: the circuits' physics does not depend on the
        # controller while it sends them nothing, so the readings are the same.
        self._pending = 1
        into = ReadingRound(self.actor_ref, len(self.circuits))
        advance = (AdvanceBatch((*tick.earlier, tick.t), into) if tick.earlier
                   else Advance(tick.t, into))
        for ref in self.circuits.values():
            ref.tell(advance)

    def _quiet(self) -> bool:
        """Nothing to do between intervals: no event, restore or load shed under way."""
        return not (self.events or self._restores or self._manual or self._deferred)

    def _on_round(self, round_: ReadingRound) -> None:
        self._pending = 0
        tick = self._tick
        assert tick is not None
        readings = round_.readings
        if not tick.earlier:
            self._take(map(readings.__getitem__, self.info))  # no list, no comprehension's call
            self._close_tick()
            return
        # One column of readings per interval, in circuit order.
        columns = zip(*[readings[cid] for cid in self.info], strict=True)
        held = self._held = [] if self._batch_listeners else None
        for t, column in zip((*tick.earlier, tick.t), columns, strict=True):
            self._take(column)
            self._close_interval(t, tick.report)
        self._held = None
        if held:
            batch = TelemetryBatch(tuple(held))
            for ref in self._batch_listeners:
                ref.tell(batch)
        self._tick = None
        self._drain_deferred()

    def _take(self, readings: Iterable[CircuitReading]) -> None:
        """Add one interval's readings, in circuit order, not arrival order: the same sums
        every run. The sums are kept in locals: this runs for every VEN on every interval."""
        info, tally, extras = self.info, self._comfort, self._extras
        energy, twin_energy = self._interval_energy, self._interval_twin
        comfort, twin_comfort_sum = self._interval_comfort, self._interval_twin_comfort
        headroom = 0.0
        for circuit, reading in zip(info.values(), readings, strict=True):
            # One unpacking, not a read per field (the twin's energy aside: it is passed on).
            (cid, t, power, used_kwh, capability, locked_out, _, minutes, shed_request, floor,
             extra, _, twin_minutes, warm, _, hot_water, _, expected) = reading
            headroom += circuit.take(t, power, capability, floor, locked_out, shed_request,
                                     expected)
            energy += used_kwh
            twin = reading.twin_kwh
            if twin is None:  # not curtailed since the fork: the circuit is its own twin
                twin_energy += used_kwh
                twin_comfort = minutes
            else:
                twin_energy += twin
                twin_comfort = twin_minutes
            twin_comfort_sum += twin_comfort or 0.0
            # HVAC, and water heaters with cold-water minutes to add (a tank's reading adds only
            # those: most have none, and adding nought leaves the sums as they are).
            if warm is not None or (hot_water and (minutes or twin_comfort)):
                tally.add(reading, twin_comfort, twin is not None)
            comfort += minutes
            if extra:
                extras[cid] = extra
        self._interval_energy, self._interval_twin = energy, twin_energy
        self._interval_comfort, self._interval_twin_comfort = comfort, twin_comfort_sum
        self._headroom = headroom

    def _close_tick(self) -> None:
        tick, self._tick = self._tick, None
        assert tick is not None
        self._close_interval(tick.t, tick.report)
        if self._deferred:  # most ticks: nothing came in meanwhile, no call
            self._drain_deferred()

    def _close_interval(self, t: float, report: bool) -> None:
        self.t = t
        # Report first: the interval that just closed belongs to any event ending now.
        if report:
            self._report()
        if self.events:
            for event in [e for e in self.events.values() if e.end <= t + 1e-9]:
                self._end_event(event.event_id, None)
        if self._manual or self._restores:
            self._restore_due()

    def _drain_deferred(self) -> None:
        while self._deferred and not self._pending:
            message = self._deferred.popleft()
            if isinstance(message, Tick):
                self._on_tick(message)
            else:
                self._apply(message)

    def _apply(self, message: Any) -> None:
        if isinstance(message, ShedLoad):
            if message.circuit_id in self.circuits:
                self._manual[message.circuit_id] = self.t + message.duration_s
                self._curtail(message.circuit_id, message.reduce_kw)
        elif isinstance(message, SetPanel):
            self.panel_amps = message.amps
        elif isinstance(message, StartEvent):
            self._start_event(message)
        elif isinstance(message, EndEvent):
            self._end_event(message.event_id, message.correlation_id)
        elif isinstance(message, SetLoad):
            info = self.info.get(message.circuit_id)
            if info is not None:
                if message.enabled is not None:
                    info.enabled = message.enabled
                if message.priority is not None:
                    info.priority = message.priority
                if message.capacity_kw is not None:
                    info.breaker_amps = breaker_amps_for(message.capacity_kw)
                self.circuits[message.circuit_id].tell(message)

    # -- metering ---------------------------------------------------------------
    def _report(self) -> None:
        span = self.t - self._interval_start
        used = self._interval_energy * 3600.0 / span if span > 0 else self._last_used_kw
        self._last_used_kw = used
        comfort = self._comfort
        event = self._main_event() if self.events else None  # most intervals: no call
        if event is not None:
            # The VEN's own view: natural minus actual draw of the circuits it holds.
            shed = estimated_shed_kw(self.info.values())
            requested = self._requested_kw()
            for active in self.events.values():
                active.account(used, shed, span)
            self._apply_plan(self.planner.update(shed, self._infos()))
        else:
            shed = requested = 0.0
        counterfactual = counterfactual_comfort = None
        if self._twins and span > 0:
            counterfactual = self._interval_twin * 3600.0 / span
            counterfactual_comfort = self._interval_twin_comfort
        # Every field in order, straight into the tuple (as CircuitActor builds its readings):
        # one per VEN per interval.
        telemetry = tuple.__new__(Telemetry, (
            self.ven_id,
            self._interval_start,
            self.t,
            self.world.epoch(self.t),
            used,
            used + shed,  # baseline_kw: what the VEN believes it would have drawn
            shed,
            requested,
            event.event_id if event else None,
            self._battery_soc(),
            self._headroom,  # taken with the readings: no circuit changes before the report
            self._interval_comfort,
            self.panel_amps,
            load_rows(self.info.values(), self.planner.snapshot, self._extras)
            if self._want_loads else (),
            counterfactual,
            counterfactual_comfort,
            comfort.warm,
            comfort.twin_warm if self._twins else None,
            comfort.cold_water(),
        ))
        self._interval_start = self.t
        self._interval_energy = self._interval_comfort = 0.0
        self._interval_twin = self._interval_twin_comfort = 0.0
        self._comfort = ComfortTally()
        if self._held is None:
            self._tell_listeners(telemetry)
        else:  # a quiet batch: held for the batch listeners, told now to the others
            self._held.append(telemetry)
            for ref in self._single_listeners:
                ref.tell(telemetry)
        if self.occupants is not None and event is not None:  # after the interval is reported
            for event_id in self.occupants.decide(self.events.values(), self.t, comfort.felt_dm):
                self._end_event(event_id, None)

    def _battery_soc(self) -> float | None:
        # The first circuit whose state has a "soc" (a circuit's state keeps its one key):
        # looked for again only once another circuit has reported its state.
        extras = self._extras
        if len(extras) != self._soc_looked_at:
            self._soc_looked_at = len(extras)
            self._soc_circuit = next((cid for cid, state in extras.items() if "soc" in state),
                                     None)
        return None if self._soc_circuit is None else extras[self._soc_circuit]["soc"]

    # -- events -------------------------------------------------------------------
    def _infos(self) -> list[CircuitInfo]:
        return list(self.info.values())

    def _main_event(self) -> ActiveEvent:
        """The earliest of the events under way (the caller checks there is one)."""
        return min(self.events.values(), key=lambda e: e.start)

    def _requested_kw(self) -> float:
        return sum(e.requested_kw for e in self.events.values())

    def _start_event(self, message: StartEvent) -> None:
        if message.event_id in self.events or message.event_id in self._left:
            # Running, or opted out of: acknowledge again with the current plan, apply nothing.
            self._ack_event(message)
            return
        # Each circuit keeps a twin that never sees this event (M&V's ground truth). A restore
        # this event cancels stays due for the twin, as it would have been without the event.
        due = {cid: at for at, cid in self._restores}
        event = self.events[message.event_id] = ActiveEvent(message, self.t)
        if self._counterfactual:
            for cid, ref in self.circuits.items():
                ref.tell(Fork(message.event_id, due.get(cid), event.end))
            self._twins = True
        # Circuits restored late from an earlier event are simply re-planned.
        self._restores = []
        if self.planner.active:
            plan = self.planner.retarget(self._requested_kw(), self._infos())
        else:
            plan = self.planner.start(self._requested_kw(), self._infos())
        self._apply_plan(plan)
        self._ack_event(message)

    def _ack_event(self, message: StartEvent) -> None:
        ack = EventAck(
            ven_id=self.ven_id,
            event_id=message.event_id,
            correlation_id=message.correlation_id,
            requested_kw=message.requested_kw,
            actual_shed_kw=self.planner.shed_total_kw(),
            circuits=tuple(self.planner.acks()),
        )
        self._tell_listeners(ack)

    def _end_event(self, event_id: str, correlation_id: str | None) -> None:
        event = self.events.pop(event_id, None)
        self._tell_listeners(self._ended(event_id, event, correlation_id))
        if event is None:
            return
        if self.events:
            self._apply_plan(self.planner.retarget(self._requested_kw(), self._infos()))
            return
        # Only what was shed comes back, the last-resort loads (batteries) first.
        shed = {cid for cid, c in self.planner.snapshot.items() if c.curtailed_kw > 0}
        self.planner.stop()
        self._disengage(set(self.info) - shed)
        ids = sorted(shed, key=lambda cid: (-self.info[cid].priority, cid))
        # A stream per event: removing an event shifts no other event's restore.
        rng = random.Random(f"{self._seed}:{self.ven_id}:restore:{event_id}")
        self._restores = restore_plan(ids, self.t, rng, self.restore_stagger_s, self.restore_window)
        # Until restored, circuits keep their last allocation (they hold it).
        self._restore_due()

    def _ended(
        self, event_id: str, event: ActiveEvent | None, correlation_id: str | None
    ) -> EventEnded:
        if event is None:
            return EventEnded(self.ven_id, event_id, correlation_id, found=False)
        epoch = self.world.epoch
        return event.ended(self.ven_id, correlation_id, epoch(event.start), epoch(self.t))

    def _tell_listeners(self, message: Any) -> None:
        for ref in self.listeners:
            ref.tell(message)
