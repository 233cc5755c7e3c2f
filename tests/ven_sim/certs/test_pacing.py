"""The pacer: slots 1/rate apart per API on simulated time, throttled calls retried with
growing, jittered backoff, other errors raised at once."""

from __future__ import annotations

import random
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.ven_sim.certs.helpers import SimClock
from ven_sim.certs.pacing import MAX_ATTEMPTS, ApiPacer, backoff_s


def _error(code: str, status: int = 400) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": "Rate exceeded"},
                        "ResponseMetadata": {"HTTPStatusCode": status}}, "CreateThing")


class Throttled:
    """An IoT client whose CreateThing is refused `times` times first: moto never
    throttles, and a real account's quota is not ours to exhaust in a test."""

    def __init__(self, times: int, code: str = "ThrottlingException", status: int = 400) -> None:
        self.left, self.code, self.status = times, code, status
        self.calls = 0

    def create_thing(self, **params: Any) -> dict[str, Any]:
        self.calls += 1
        if self.left:
            self.left -= 1
            raise _error(self.code, self.status)
        return {"thingName": params["thingName"]}


def test_each_api_gets_its_own_slots() -> None:
    clock = SimClock()
    pacer = ApiPacer(clock, rates={"CreateThing": 100.0, "CreateKeysAndCertificate": 10.0})
    for _ in range(3):
        pacer.wait("CreateKeysAndCertificate")
    assert clock.now == pytest.approx(0.2)
    pacer.wait("CreateThing")  # its own slot: no wait behind the other API
    assert clock.now == pytest.approx(0.2)
    clock.sleep(5)  # idle time is not saved up into a burst
    pacer.wait("CreateKeysAndCertificate")
    pacer.wait("CreateKeysAndCertificate")
    assert clock.now == pytest.approx(5.3)


def test_a_throttled_call_is_retried_after_a_backoff() -> None:
    clock, client = SimClock(), Throttled(times=3)
    pacer = ApiPacer(clock, rng=random.Random(1))
    assert pacer.call(client, "CreateThing", thingName="t") == {"thingName": "t"}
    assert (client.calls, pacer.retries) == (4, 3)
    # Waited at least half of 0.5 + 1 + 2 s of backoff, and at most all of it.
    assert 1.75 <= clock.now <= 3.5 + 4 / 100


def test_backoff_doubles_up_to_its_cap_with_jitter() -> None:
    rng = random.Random(7)
    waits = [backoff_s(attempt, rng) for attempt in range(10)]
    for attempt, wait in enumerate(waits):
        ceiling = min(20.0, 0.5 * 2**attempt)
        assert ceiling / 2 <= wait <= ceiling
    assert len(set(waits)) == len(waits)


def test_throttling_that_never_ends_is_raised_after_the_last_attempt() -> None:
    client = Throttled(times=100)
    with pytest.raises(ClientError, match="Rate exceeded"):
        ApiPacer(SimClock()).call(client, "CreateThing", thingName="t")
    assert client.calls == MAX_ATTEMPTS


def test_other_errors_are_not_retried() -> None:
    client = Throttled(times=1, code="InvalidRequestException")
    with pytest.raises(ClientError):
        ApiPacer(SimClock()).call(client, "CreateThing", thingName="t")
    assert client.calls == 1
    assert ApiPacer(SimClock()).call(Throttled(1, "InvalidRequestException"), "CreateThing",
                                     retry_codes={"InvalidRequestException"}, thingName="t")


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_a_server_error_without_an_aws_code_is_retried(status: int) -> None:
    # As a server that failed answers: an HTML page, so botocore's code is the status.
    client = Throttled(times=2, code=str(status), status=status)
    assert ApiPacer(SimClock()).call(client, "CreateThing", thingName="t")
    assert client.calls == 3


def test_a_client_error_status_is_not_retried_for_its_status() -> None:
    client = Throttled(times=1, code="400", status=400)
    with pytest.raises(ClientError):
        ApiPacer(SimClock()).call(client, "CreateThing", thingName="t")
    assert client.calls == 1
