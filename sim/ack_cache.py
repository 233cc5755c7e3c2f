"""The acks a VEN sent, by correlationId: what makes a redelivered command safe.

Kept beside `sim.contract` (which builds the acks), so the contract module stays short.
"""

from __future__ import annotations

from collections import OrderedDict

__all__ = ["ACK_CACHE_SIZE", "AckCache"]

ACK_CACHE_SIZE = 1024


class AckCache:
    """The acks last sent, by correlationId, so a redelivered command is answered again
    instead of applied twice. Each ack is kept as sent, encoded (as dicts, a fleet VEN's few
    acks were its largest Python objects), with the digest of the command it answered, so a
    reused correlationId with another body can be told from a redelivery. Least recently
    used entries go first once `maxsize` is hit."""

    def __init__(self, maxsize: int = ACK_CACHE_SIZE) -> None:
        if maxsize < 1:
            raise ValueError(f"maxsize must be >= 1, not {maxsize!r}")
        self.maxsize = maxsize
        self._acks: OrderedDict[str, tuple[bytes, str]] = OrderedDict()

    def get(self, correlation_id: str | None) -> bytes | None:
        if correlation_id is None or correlation_id not in self._acks:
            return None
        self._acks.move_to_end(correlation_id)
        return self._acks[correlation_id][0]

    def digest(self, correlation_id: str) -> str:
        """The digest of the command `correlation_id` answered ("" if none was kept)."""
        entry = self._acks.get(correlation_id)
        return entry[1] if entry is not None else ""

    def put(self, correlation_id: str | None, payload: bytes, digest: str = "") -> None:
        """Remember `payload`; a later ack (e.g. success after accepted) replaces it."""
        if correlation_id is None:
            return
        self._acks[correlation_id] = (payload, digest)
        self._acks.move_to_end(correlation_id)
        while len(self._acks) > self.maxsize:
            self._acks.popitem(last=False)

    def __contains__(self, correlation_id: object) -> bool:
        return correlation_id in self._acks

    def __len__(self) -> int:
        return len(self._acks)
