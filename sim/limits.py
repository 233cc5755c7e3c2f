"""Every limit the simulator honours, each defined once: AWS IoT Core quotas and panel sizes.

The AWS numbers are the documented AWS IoT Core quotas (message broker and device shadow);
the VENs, the transports, the embedded broker and the shadow service all import them from
here, so a quota that changes is changed in one place.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

__all__ = [
    "ACTOR_MAX_RESTARTS",
    "IOT_API_RATE_PER_S",
    "CAPACITY_KW_RANGE",
    "DURATION_S_RANGE",
    "KEEPALIVE_RANGE_S",
    "MAX_CONNECTS_PER_S_PER_ACCOUNT",
    "MAX_CONNECTS_PER_S_PER_CLIENT_ID",
    "MAX_ECHO_CHARS",
    "MAX_FILTERS_PER_SUBSCRIBE",
    "MAX_ID_CHARS",
    "MAX_INFLIGHT_PUBLISHES",
    "MAX_JSON_DEPTH",
    "MAX_PAYLOAD_BYTES",
    "MAX_PUBLISHES_PER_S",
    "MAX_REPORTS_PER_RUN",
    "MAX_SCENARIO_BYTES",
    "MAX_SCENARIO_VALUES",
    "MAX_SUBSCRIPTIONS_PER_CONNECTION",
    "MAX_VENS_PER_RUN",
    "OFFLINE_BUFFER_MESSAGES",
    "PANEL_SIZES",
    "PANEL_SIZES_TEXT",
    "PRIORITY_RANGE",
    "REDUCTION_KW_RANGE",
    "REPORT_INTERVAL_S_RANGE",
    "RESTORE_WINDOW_S_MAX",
    "SHADOW_MAX_CLIENT_TOKEN_BYTES",
    "SHADOW_MAX_DEPTH",
    "SHADOW_MAX_REQUESTS_PER_S_PER_THING",
    "SHADOW_MAX_STATE_BYTES",
]

# -- AWS IoT Core message broker --------------------------------------------------------
MAX_PAYLOAD_BYTES = 128 * 1024  # largest MQTT payload; a bigger one closes the connection
MAX_PUBLISHES_PER_S = 100.0  # publishes per second per connection; more are throttled
MAX_INFLIGHT_PUBLISHES = 100  # QoS 1 publishes awaiting PUBACK per client; more wait
KEEPALIVE_RANGE_S = (30, 1200)  # MQTT keepalive the broker accepts, in seconds (inclusive)
MAX_FILTERS_PER_SUBSCRIBE = 8  # topic filters in one SUBSCRIBE packet; more are rejected
MAX_SUBSCRIPTIONS_PER_CONNECTION = 50  # topic filters one connection may hold
MAX_CONNECTS_PER_S_PER_CLIENT_ID = 1  # CONNECTs per second with one client ID
MAX_CONNECTS_PER_S_PER_ACCOUNT = 500  # CONNECTs per second for the whole account
OFFLINE_BUFFER_MESSAGES = 1000  # what one client keeps while offline; oldest dropped first

# -- AWS IoT Core device shadow ---------------------------------------------------------
SHADOW_MAX_STATE_BYTES = 8 * 1024  # desired + reported, serialised; metadata does not count
SHADOW_MAX_DEPTH = 6  # nesting levels within desired or reported
SHADOW_MAX_CLIENT_TOKEN_BYTES = 64  # a request's clientToken, UTF-8 encoded
SHADOW_MAX_REQUESTS_PER_S_PER_THING = 20  # shadow requests per second for one thing

# -- AWS IoT Core control plane (the registry API boto3 calls) --------------------------
# Requests per second per account and region; more are refused with ThrottlingException.
# Source: AWS General Reference, "AWS IoT Core endpoints and quotas", API throttling limits
# (https://docs.aws.amazon.com/general/latest/gr/iot-core.html#throttling-limits); the
# thing APIs are also in Service Quotas (CreateThing L-64CBACAC, DeleteThing L-889800F7,
# DescribeThing L-0EF0F5EE, AttachThingPrincipal L-F64D1AA6, DetachThingPrincipal
# L-B5EE4A16), read 2026-11-30.
IOT_API_RATE_PER_S: Mapping[str, float] = MappingProxyType({
    "AttachPolicy": 15.0,
    "AttachThingPrincipal": 100.0,
    "CreateKeysAndCertificate": 10.0,
    "CreatePolicy": 10.0,
    "CreateThing": 100.0,
    "DeleteCertificate": 10.0,
    "DeletePolicy": 10.0,
    "DeleteThing": 100.0,
    "DescribeThing": 350.0,
    "DetachPolicy": 15.0,
    "DetachThingPrincipal": 100.0,
    "UpdateCertificate": 10.0,
})

# -- the house model --------------------------------------------------------------------
PANEL_SIZES = (100, 150, 200)  # breaker panel ratings (A) a VEN may have
PANEL_SIZES_TEXT = ", ".join(map(str, PANEL_SIZES[:-1])) + f" or {PANEL_SIZES[-1]}"  # for errors

# -- what a command or shadow message may ask of one VEN (inclusive ranges) ---------------
# Far beyond any house, far below what overflows: 1e308 kW once made telemetry sum to inf.
REDUCTION_KW_RANGE = (0.0, 1000.0)  # kW an event, shedPanel or shedLoad asks one VEN to shed
CAPACITY_KW_RANGE = (0.01, 100.0)  # a circuit's capacity (a 400 A breaker is 96 kW)
DURATION_S_RANGE = (0.0, 7 * 86400.0)  # an event or shed; a week is longer than any DR event
REPORT_INTERVAL_S_RANGE = (1.0, 86400.0)  # 1e308 s once silenced telemetry for good
RESTORE_WINDOW_S_MAX = 4 * 3600.0  # a scenario's mv.restore_window: longer is no restore at all
PRIORITY_RANGE = (0, 1000)  # shed order of a circuit; higher sheds first
MAX_ID_CHARS = 256  # correlationId, event_id, loadId, venId
MAX_ECHO_CHARS = 200  # a bad value quoted back in an error ack, so no ack nears 128 KB
MAX_JSON_DEPTH = 32  # nesting of a command or shadow message; deeper is refused before parsing

# -- supervision ---------------------------------------------------------------------------
ACTOR_MAX_RESTARTS = 10  # failures one VEN's actors may have before the VEN is isolated

# -- one run in one process -----------------------------------------------------------------
MAX_SCENARIO_BYTES = 1_000_000  # a scenario file; real ones are a few KB
MAX_SCENARIO_VALUES = 100_000  # values a scenario expands to: bounds YAML alias bombs
MAX_VENS_PER_RUN = 20_000  # VENs one process runs; more go to the fleet's workers
MAX_REPORTS_PER_RUN = 20_000_000  # telemetry rows one run keeps in memory (~4 GB)

# -- faults a scenario may inject ----------------------------------------------------------
MAX_FAULT_LATENCY_S = 600.0  # a latency fault's delay plus jitter; beyond it the link is gone
MAX_CLOCK_SKEW_S = 7 * 86400.0  # a clock_skew fault's offset, either way
