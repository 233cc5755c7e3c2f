"""A light random stream for load-test VENs: 8 bytes of state instead of 2.5 KB.

`random.Random` (Mersenne Twister) keeps 624 words of state per stream, 2.5 KB, and a VEN's
circuits keep about six streams: 14 KB of a fleet VEN's memory. `SplitMix64` (Steele, Lea and
Flood, "Fast splittable pseudorandom number generators", OOPSLA 2014; the generator that
seeds xoshiro) keeps one 64-bit word and passes BigCrush. It offers what the circuit models
draw with, using `random.Random`'s own distribution code on top of its `random()` and
`getrandbits()`.

Its numbers are not Mersenne Twister's: `ven-sim run`, whose outputs are reproducible and
compared byte for byte, keeps `random.Random`; `ven-sim fleet` VENs, whose loads only have to
be plausible and reproducible per seed, use this. Each circuit still has its own stream,
seeded from its house's, so randomness stays independent of events either way.
"""

from __future__ import annotations

from random import Random
from typing import Any

__all__ = ["SplitMix64"]

_MASK = (1 << 64) - 1
_GAMMA = 0x9E3779B97F4A7C15  # the golden ratio in 64 bits: the state's step
_DOUBLE = 1.0 / (1 << 53)


class SplitMix64:
    """`random()`, `getrandbits()` and `random.Random`'s distributions on one 64-bit state."""

    __slots__ = ("_state", "gauss_next")

    def __init__(self, seed: int = 0) -> None:
        if not isinstance(seed, int):
            raise TypeError(f"SplitMix64 takes an int seed, not {type(seed).__name__}")
        self._state = seed & _MASK
        self.gauss_next: float | None = None  # random.Random.gauss keeps its spare here

    def _next(self) -> int:
        self._state = z = (self._state + _GAMMA) & _MASK
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK
        return z ^ (z >> 31)

    def random(self) -> float:
        """A float in [0, 1) from the top 53 bits."""
        return (self._next() >> 11) * _DOUBLE

    def getrandbits(self, k: int) -> int:
        if k < 0:
            raise ValueError("number of bits must be non-negative")
        value, bits = 0, 0
        while bits < k:
            value, bits = (value << 64) | self._next(), bits + 64
        return value >> (bits - k)

    def __eq__(self, other: object) -> bool:  # same state: draws alike from now on
        if not isinstance(other, SplitMix64):
            return NotImplemented
        return (self._state, self.gauss_next) == (other._state, other.gauss_next)

    __hash__ = None  # type: ignore[assignment]  # mutable

    def __getstate__(self) -> tuple[int, float | None]:
        return self._state, self.gauss_next

    def __setstate__(self, state: tuple[int, float | None]) -> None:
        self._state, self.gauss_next = state

    # random.Random's distributions call only random(), getrandbits() and _randbelow().
    _randbelow: Any = Random._randbelow_with_getrandbits  # noqa: SLF001
    randrange: Any = Random.randrange
    randint: Any = Random.randint
    choice: Any = Random.choice
    choices: Any = Random.choices
    uniform: Any = Random.uniform
    triangular: Any = Random.triangular
    gauss: Any = Random.gauss
    expovariate: Any = Random.expovariate
