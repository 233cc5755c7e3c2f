"""The fleet hands free heap pages back to the OS after its bursts (glibc's malloc_trim)."""

from __future__ import annotations

import random

import pytest

from ven_sim.fleet import process_stats
from ven_sim.fleet.process_stats import release_free_memory, rss_mb


@pytest.mark.skipif(process_stats._trim is None, reason="not glibc: nothing to release")  # noqa: SLF001
def test_free_pages_between_live_blocks_go_back_to_the_os() -> None:
    # Blocks of a handshake's sizes, every other one freed: holes glibc keeps resident.
    rng = random.Random(1)
    blocks = [bytearray(rng.choice((700, 2_000, 16_700))) for _ in range(40_000)]
    del blocks[::2]
    before = rss_mb()
    release_free_memory()
    assert before - rss_mb() > 20.0  # of about 130 MB freed
    assert len(blocks) == 20_000  # the live half stays
