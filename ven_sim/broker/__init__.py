"""Local stand-ins for AWS IoT Core: brokers with mutual TLS and the device shadow service.

Re-exported here: the shadow rules and store (plain Python). The brokers and the shadow
service are imported from their modules (`embedded`: amqtt, `mosquitto`: cryptography,
`shadow_service`: paho) by the commands that start them.
"""

from __future__ import annotations

from ven_sim.broker.shadow_doc import SHADOW_CLIENT_ID, Shadow, ShadowError
from ven_sim.broker.shadow_store import ShadowStore

__all__ = [
    "SHADOW_CLIENT_ID",
    "Shadow",
    "ShadowError",
    "ShadowStore",
]
