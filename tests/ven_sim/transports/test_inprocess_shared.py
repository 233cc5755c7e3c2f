"""The in-process bus's shared subscriptions, as mosquitto and AWS IoT Core give them: each
message of the filter to one member of the group, in turn; other subscribers as before."""

from __future__ import annotations

from sim.contract import shared_subscription
from ven_sim.transports.inprocess import InProcessBus, InProcessTransport


def test_each_message_goes_to_one_member_in_turn_and_plain_subscribers_get_all() -> None:
    transport = InProcessTransport(InProcessBus())
    got: dict[str, list[str]] = {name: [] for name in ("a", "b", "c", "plain", "other-group")}

    def connection(name: str, topic_filter: str):  # type: ignore[no-untyped-def]
        conn = transport.open(name, lambda topic, _payload: got[name].append(topic))
        conn.subscribe(topic_filter)
        return conn

    members = [connection(name, shared_subscription("acks", "ven/ack/+")) for name in "abc"]
    connection("plain", "ven/ack/+")
    connection("other-group", shared_subscription("others", "ven/ack/+"))
    sender = transport.open("sender", lambda _t, _p: None)
    topics = [f"ven/ack/ven-{n}" for n in range(9)]
    for topic in topics:
        sender.publish(topic, b"{}")
    assert got["a"] == topics[0::3] and got["b"] == topics[1::3] and got["c"] == topics[2::3]
    assert got["plain"] == topics and got["other-group"] == topics  # a group of one: all
    sender.publish("ven/cmd/ven-1", b"{}")  # outside the filter: to no member
    assert sum(len(v) for v in got.values()) == 3 * len(topics)  # the group, plain, other

    members[1].close()  # a member that leaves is out of the turns
    for topic in topics[:4]:
        sender.publish(topic, b"{}")
    assert len(got["b"]) == 3 and len(got["a"]) + len(got["c"]) == 6 + 4
