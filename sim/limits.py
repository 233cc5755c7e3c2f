"""Every limit the simulator honours, each defined once: AWS IoT Core quotas and panel sizes.

The AWS numbers are the documented AWS IoT Core quotas (message broker and device shadow);
the VENs, the transports, the embedded broker and the shadow service all import them from
here, so a quota that changes is changed in one place.
"""

from __future__ import annotations

__all__ = [
    "KEEPALIVE_RANGE_S",
    "MAX_CONNECTS_PER_S_PER_ACCOUNT",
    "MAX_CONNECTS_PER_S_PER_CLIENT_ID",
    "MAX_FILTERS_PER_SUBSCRIBE",
    "MAX_PAYLOAD_BYTES",
    "MAX_PUBLISHES_PER_S",
    "MAX_SUBSCRIPTIONS_PER_CONNECTION",
    "PANEL_SIZES",
    "PANEL_SIZES_TEXT",
    "SHADOW_MAX_CLIENT_TOKEN_BYTES",
    "SHADOW_MAX_DEPTH",
    "SHADOW_MAX_REQUESTS_PER_S_PER_THING",
    "SHADOW_MAX_STATE_BYTES",
]

# -- AWS IoT Core message broker --------------------------------------------------------
MAX_PAYLOAD_BYTES = 128 * 1024  # largest MQTT payload; a bigger one closes the connection
MAX_PUBLISHES_PER_S = 100.0  # publishes per second per connection; more are throttled
KEEPALIVE_RANGE_S = (30, 1200)  # MQTT keepalive the broker accepts, in seconds (inclusive)
MAX_FILTERS_PER_SUBSCRIBE = 8  # topic filters in one SUBSCRIBE packet; more are rejected
MAX_SUBSCRIPTIONS_PER_CONNECTION = 50  # topic filters one connection may hold
MAX_CONNECTS_PER_S_PER_CLIENT_ID = 1  # CONNECTs per second with one client ID
MAX_CONNECTS_PER_S_PER_ACCOUNT = 500  # CONNECTs per second for the whole account

# -- AWS IoT Core device shadow ---------------------------------------------------------
SHADOW_MAX_STATE_BYTES = 8 * 1024  # desired + reported, serialised; metadata does not count
SHADOW_MAX_DEPTH = 6  # nesting levels within desired or reported
SHADOW_MAX_CLIENT_TOKEN_BYTES = 64  # a request's clientToken, UTF-8 encoded
SHADOW_MAX_REQUESTS_PER_S_PER_THING = 20  # shadow requests per second for one thing

# -- the house model --------------------------------------------------------------------
PANEL_SIZES = (100, 150, 200)  # breaker panel ratings (A) a VEN may have
PANEL_SIZES_TEXT = ", ".join(map(str, PANEL_SIZES[:-1])) + f" or {PANEL_SIZES[-1]}"  # for errors
