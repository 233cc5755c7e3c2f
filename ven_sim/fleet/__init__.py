"""`ven-sim fleet`: load tests with thousands of full VENs per process (docs/fleet.md).

The light parts are re-exported here; the runner, the probe and the wiring (paho) are
imported from their own modules.
"""

from __future__ import annotations

from ven_sim.fleet.histogram import Histogram
from ven_sim.fleet.identities import IdentityError, IdRange, parse_shard, shard_range

__all__ = ["Histogram", "IdRange", "IdentityError", "parse_shard", "shard_range"]
