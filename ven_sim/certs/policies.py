"""AWS IoT policies: what a fleet's certificates may do, built from the topics of
`sim.contract`, so a topic that changes there changes in every policy."""

from __future__ import annotations

from typing import Any

from sim import contract

__all__ = ["THING_NAME_VARIABLE", "fleet_policy", "policy_document", "probe_policy"]

# AWS fills this in per connection: the thing whose certificate the client presented.
THING_NAME_VARIABLE = "${iot:Connection.Thing.ThingName}"


def fleet_policy(region: str, account: str, *, partition: str = "aws") -> dict[str, Any]:
    """One policy for many things: each certificate may connect only as the thing it is
    attached to, with that thing's name as client ID, and use only that thing's topics."""
    document = policy_document(THING_NAME_VARIABLE, f"arn:{partition}:iot:{region}:{account}")
    # Without this a certificate attached to no thing would match no resource anyway;
    # stating it makes the rule plain to whoever reads the policy in the console.
    document["Statement"][0]["Condition"] = {"Bool": {"iot:Connection.Thing.IsAttached": "true"}}
    return document


def probe_policy(prefix: str, region: str, account: str, *, partition: str = "aws"
                 ) -> dict[str, Any]:
    """The fleet's probe VTN (`ven-sim fleet`): it connects as `{prefix}-probe-<run>[-k]`, sends
    commands to the fleet's VENs and reads their acks and telemetry, as the backend does."""
    arn = f"arn:{partition}:iot:{region}:{account}"
    fleet = contract.topics(f"{prefix}-*")  # `*`: the IoT policy wildcard
    inbound = [fleet.ack, fleet.telemetry]
    # With --vtn-connections K > 1 its connections share the acks: `$share/<probe's client
    # ID>/ven/ack/+`, the group named after the run's first connection.
    shared_acks = contract.shared_subscription(f"{prefix}-probe-*", contract.EVERY_VEN.ack)
    return {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "iot:Connect",
             "Resource": f"{arn}:client/{prefix}-probe-*"},
            {"Effect": "Allow", "Action": "iot:Publish",
             "Resource": f"{arn}:topic/{fleet.command}"},
            {"Effect": "Allow", "Action": "iot:Subscribe",
             "Resource": [f"{arn}:topicfilter/{contract.EVERY_VEN.ack}",
                          f"{arn}:topicfilter/{shared_acks}",
                          f"{arn}:topicfilter/{fleet.telemetry}"]},
            {"Effect": "Allow", "Action": "iot:Receive",
             "Resource": [f"{arn}:topic/{t}" for t in inbound]},
        ],
    }


def policy_document(thing: str, arn: str) -> dict[str, Any]:
    own = contract.topics(thing)
    # The presence topic carries the Last Will: AWS checks a will against Publish too.
    publish = [*own.telemetry_out, own.ack, contract.presence_topic(thing),
               contract.shadow_topic(thing, "get"), contract.shadow_topic(thing, "update")]
    # The shadow's replies: `*` is the IoT policy wildcard, not MQTT's.
    inbound = [own.command, contract.shadow_topic(thing, "*")]
    return {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "iot:Connect", "Resource": f"{arn}:client/{thing}"},
            {"Effect": "Allow", "Action": "iot:Publish",
             "Resource": [f"{arn}:topic/{t}" for t in publish]},
            {"Effect": "Allow", "Action": "iot:Subscribe",
             "Resource": [f"{arn}:topicfilter/{t}" for t in inbound]},
            {"Effect": "Allow", "Action": "iot:Receive",
             "Resource": [f"{arn}:topic/{t}" for t in inbound]},
        ],
    }
