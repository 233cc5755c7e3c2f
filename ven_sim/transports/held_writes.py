"""A PUBACK held back a moment, so that it goes out in one TLS write with what follows it.

A VEN answers a command (a QoS 1 PUBLISH) twice: with a PUBACK as soon as the network loop
reads it, and with its ack (and a shadow report) once its actors have acted on it, on the
kernel thread, a few loop rounds later. Written as they come, that is two TLS writes (two
records, two system calls, two wake-ups of the broker) where one would do: on loopback a
4-byte PUBACK alone costs the writer about 14 µs, a 700-byte ack 17 µs, the two joined 16
(docs/benchmarks.md, "The network loop, third pass").

So a `LeanClient` on the network loop (its `puback_holder`, set by `NetworkLoop.attach`)
queues a PUBACK without asking for a write when nothing else is queued, and the loop writes
it with the client's next packets, or on its own once `PUBACK_HOLD_S` has passed. The same
packets in the same order; only their grouping into writes, and the PUBACK's time, change.
At most one PUBACK waits per client (a second is written at once, with the first): a broker
that allows two or more unacknowledged messages in flight (mosquitto 20 by default) never
waits on a held one. A broker that allows one would wait up to the hold for each: its
connections set `puback_hold_s` to 0 (ConnectionSettings), and their PUBACKs go at once.
"""

from __future__ import annotations

from typing import Any

__all__ = ["PUBACK_HOLD_S", "HeldWrites", "LoopHolds"]

# Longer than a fan-out's read-to-ack: at 5,000 VENs the median ack is sent 0.04-0.43 s after
# the median read (`ven-sim bench fleet`, docs/benchmarks.md "The fan-out on the workers,
# fourth pass"). A VEN whose ack comes later than the hold has its PUBACK written alone, 0.5 s
# after it read the command. Far below a keepalive (30 s at least) or a broker's patience.
PUBACK_HOLD_S = 0.5


class HeldWrites:
    """Clients with a packet queued but no write asked for, each until its deadline. One
    hold for all: the order they were held in is the order they fall due."""

    def __init__(self, hold_s: float = PUBACK_HOLD_S) -> None:
        self.hold_s = hold_s
        self._due: dict[Any, float] = {}  # client -> when its queued packets are written

    def __len__(self) -> int:
        return len(self._due)

    def hold(self, client: Any, now: float) -> None:
        """`client` queued a packet to be written by `now + hold_s` at the latest (an
        earlier deadline of its own stands)."""
        self._due.setdefault(client, now + self.hold_s)

    def release(self, client: Any) -> None:
        """`client` is written, or gone: nothing of it waits any more."""
        self._due.pop(client, None)

    def next_due(self) -> float | None:
        """The earliest deadline, if any."""
        return next(iter(self._due.values()), None)

    def take_due(self, now: float) -> list[Any]:
        """The clients whose deadline has come, no longer held."""
        due = self._due
        ready: list[Any] = []
        for client, when in due.items():
            if when > now:
                break
            ready.append(client)
        for client in ready:
            del due[client]
        return ready

    def clear(self) -> None:
        self._due.clear()


class LoopHolds:
    """A network loop's held clients: a `HeldWrites` for each hold its connections use (one
    in practice, `PUBACK_HOLD_S`), so that each hands clients back in the order held."""

    __slots__ = ("_by_hold",)

    def __init__(self) -> None:
        self._by_hold: dict[float, HeldWrites] = {}

    def __len__(self) -> int:
        return sum(len(held) for held in self._by_hold.values())

    def holder(self, hold_s: float) -> HeldWrites:
        """Where a client whose PUBACKs wait `hold_s` holds them."""
        held = self._by_hold.get(hold_s)
        if held is None:
            held = self._by_hold[hold_s] = HeldWrites(hold_s)
        return held

    def release(self, client: Any) -> None:
        for held in self._by_hold.values():
            held.release(client)

    def next_due(self) -> float | None:
        dues = [due for held in self._by_hold.values() if (due := held.next_due()) is not None]
        return min(dues, default=None)

    def take_due(self, now: float) -> list[Any]:
        return [client for held in self._by_hold.values() for client in held.take_due(now)]

    def clear(self) -> None:
        for held in self._by_hold.values():
            held.clear()
