"""An offline stand-in for AWS IoT Core: local CA, embedded mTLS broker, device shadow service."""

from iot.broker import EmbeddedBroker
from iot.ca import CAError, CertPaths, LocalCA
from iot.mqtt import BrokerURL, MQTTConnectError, TlsFiles, connect, make_client
from iot.shadow import SHADOW_CLIENT_ID, ShadowService, shadow_topic
from iot.shadow_doc import ShadowError
from iot.shadow_store import ShadowStore

__all__ = [
    "SHADOW_CLIENT_ID",
    "BrokerURL",
    "CAError",
    "CertPaths",
    "EmbeddedBroker",
    "LocalCA",
    "MQTTConnectError",
    "ShadowError",
    "ShadowService",
    "ShadowStore",
    "TlsFiles",
    "connect",
    "make_client",
    "shadow_topic",
]
