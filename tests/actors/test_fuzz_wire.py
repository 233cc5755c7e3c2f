"""Hypothesis fuzzing of a running VEN: its command handler and its shadow handlers.

Each test feeds one VEN (in-process, with the shadow service) every generated payload,
then checks it still publishes, answers a ping, never sent an ack over 128 KB, and no
actor of it stopped.
"""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.actors.test_gateway import Site
from tests.actors.test_gateway_hostile import still_alive
from tests.fuzzing import FUZZ, command_payloads, json_values


@pytest.fixture
def site(request: pytest.FixtureRequest):
    s = Site("inprocess", request)
    s.run(10.0)
    yield s
    s.close()


def test_fuzzed_commands_never_stop_the_ven(site: Site) -> None:
    @FUZZ
    @given(raw=command_payloads(site.ven_id))
    def feed(raw: bytes) -> None:
        site.send(raw)
        site.dispatcher.run_until_idle()
        assert all(ref.is_alive() for ref in site.ven.refs)

    feed()
    still_alive(site)


SHADOW_SUFFIXES = ["update/delta", "get/accepted", "get/rejected", "update/accepted",
                   "update/rejected"]
shadow_docs = st.one_of(
    json_values,
    st.fixed_dictionaries({"state": json_values}),
    st.fixed_dictionaries({"state": st.fixed_dictionaries({"delta": json_values})}),
    st.fixed_dictionaries({"state": st.dictionaries(
        st.sampled_from(["loads", "report_interval_seconds", "panelAmperageRating"]),
        json_values)}, optional={"version": json_values, "code": json_values,
                                 "clientToken": json_values}),
)


def test_fuzzed_shadow_messages_never_stop_the_ven(site: Site) -> None:
    @FUZZ
    @given(suffix=st.sampled_from(SHADOW_SUFFIXES), doc=shadow_docs)
    def feed(suffix: str, doc: object) -> None:
        site.backend.conn.publish(f"$aws/things/{site.ven_id}/shadow/{suffix}",
                                  json.dumps(doc).encode())
        site.dispatcher.run_until_idle()
        assert all(ref.is_alive() for ref in site.ven.refs)

    feed()
    still_alive(site)
