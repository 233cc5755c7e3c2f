"""`ven-sim live`: one VEN in real time against AWS IoT Core or a local broker."""

from __future__ import annotations

from ven_sim.live.config import load_live_config
from ven_sim.live.ven import LiveConfig, LiveVen

__all__ = [
    "LiveConfig",
    "LiveVen",
    "load_live_config",
]
