"""`ven-sim bench`: how fast the simulation runs, and how many MQTT clients one process carries.

`bench_mqtt` (paho, cryptography, brokers) is imported from `ven_sim.bench.mqtt`.
"""

from __future__ import annotations

from ven_sim.bench.sim import bench_scenario, bench_sim

__all__ = [
    "bench_scenario",
    "bench_sim",
]
