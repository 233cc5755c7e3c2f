"""How VENs reach a broker: the transport base, the in-process bus and paho over TLS.

Re-exported here: what needs no paho. The paho transport is imported from its module,
`ven_sim.transports.paho`, by the code that opens network connections.
"""

from __future__ import annotations

from ven_sim.transports.base import BaseConnection, BaseTransport, ConnectionStats, topic_matches
from ven_sim.transports.endpoints import BrokerURL, MQTTConnectError, TlsFiles
from ven_sim.transports.inprocess import InProcessBus, InProcessTransport

__all__ = [
    "BaseConnection",
    "BaseTransport",
    "BrokerURL",
    "ConnectionStats",
    "InProcessBus",
    "InProcessTransport",
    "MQTTConnectError",
    "TlsFiles",
    "topic_matches",
]
