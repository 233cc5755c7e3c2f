"""The limits in sim/limits.py, and the places that cannot import them but must agree."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import pytest

from sim import limits
from sim.models.house import panel_facts

STATIC_DIR = Path(__file__).parents[2] / "ven_sim" / "web" / "static"


def test_aws_iot_core_quotas() -> None:
    assert limits.MAX_PAYLOAD_BYTES == 131_072
    assert limits.SHADOW_MAX_STATE_BYTES == 8_192
    assert limits.KEEPALIVE_RANGE_S == (30, 1200)
    assert limits.MAX_PUBLISHES_PER_S == 100.0


def test_aws_iot_control_plane_rates() -> None:
    rates = limits.IOT_API_RATE_PER_S
    assert rates["CreateKeysAndCertificate"] == rates["UpdateCertificate"] == 10.0
    assert rates["AttachPolicy"] == rates["DetachPolicy"] == 15.0
    assert rates["CreateThing"] == rates["AttachThingPrincipal"] == 100.0
    with pytest.raises(TypeError):
        rates["CreateThing"] = 1000.0  # type: ignore[index]  # one home, read-only


def test_panel_sizes_text_lists_every_size() -> None:
    assert limits.PANEL_SIZES_TEXT == "100, 150 or 200"


def test_every_panel_size_has_facts() -> None:
    for amps in limits.PANEL_SIZES:
        assert panel_facts(amps)["panelAmperageRating"] == amps


def test_scenario_schema_offers_exactly_the_panel_sizes() -> None:
    text = resources.files("sim").joinpath("schema/scenario.schema.json").read_text("utf-8")
    panel = json.loads(text)["$defs"]["params"]["properties"]["panel_amps"]
    plain, choice = panel["anyOf"]
    assert plain["enum"] == list(limits.PANEL_SIZES)
    assert choice["properties"]["choice"]["items"]["enum"] == list(limits.PANEL_SIZES)
    assert panel["x-errors"]["anyOf"].startswith(f"must be {limits.PANEL_SIZES_TEXT},")


def test_web_page_takes_the_panel_sizes_from_the_server() -> None:
    page = (STATIC_DIR / "index.html").read_text("utf-8")
    assert "<option" not in page  # the menu is filled from /api/state's panelSizes
    assert "state.panelSizes" in (STATIC_DIR / "app.js").read_text("utf-8")
