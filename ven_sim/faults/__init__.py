"""Faults a scenario injects: played on simulated time against the in-process broker
(`FaultPlayer`, `LinkLag`), or on a real broker through a fault-injecting TCP proxy."""

from ven_sim.faults.lag import LinkLag
from ven_sim.faults.network import NetworkFaults, fault_wire_problem
from ven_sim.faults.player import FaultPlayer
from ven_sim.faults.proxy import FaultProxy

__all__ = ["FaultPlayer", "FaultProxy", "LinkLag", "NetworkFaults", "fault_wire_problem"]
