"""Shared subscriptions' filters (`$share/{group}/{filter}`): made and read back."""

from __future__ import annotations

import pytest

from sim.contract import EVERY_VEN, parse_shared_subscription, shared_subscription


def test_a_shared_filter_reads_back_as_its_group_and_filter() -> None:
    made = shared_subscription("ven-load-probe-0123abcd", EVERY_VEN.ack)
    assert made == "$share/ven-load-probe-0123abcd/ven/ack/+"
    assert parse_shared_subscription(made) == ("ven-load-probe-0123abcd", "ven/ack/+")


@pytest.mark.parametrize("topic_filter", [
    "ven/ack/+", "$share/", "$share/group", "$share/group/", "$share//ven/ack/+",
    "$aws/things/+/shadow/update", "share/group/ven/ack/+",
])
def test_any_other_filter_is_not_shared(topic_filter: str) -> None:
    assert parse_shared_subscription(topic_filter) is None


@pytest.mark.parametrize("group", ["", "a/b", "a+", "a#", "a\x00"])
def test_a_group_that_is_not_one_topic_level_is_refused(group: str) -> None:
    with pytest.raises(ValueError, match="share group"):
        shared_subscription(group, EVERY_VEN.ack)
