"""`ven-sim bench memory` on three VENs against the bench's mosquitto: the heap per VEN by
allocation site and by object type, the VENs' frozen objects counted too."""

from __future__ import annotations

import json

from click.testing import CliRunner

from ven_sim.cli import main


def test_sites_and_types_per_ven_include_the_vens_actors() -> None:
    result = CliRunner().invoke(main, ["bench", "memory", "--vens", "3", "--duration", "10",
                                       "--top", "400"])
    assert result.exit_code == 0, result.output
    figures = json.loads(result.stdout[result.stdout.index("{"):])
    assert (figures["vens"], figures["vens_connected"]) == (3, 3)
    assert figures["traced_kb_per_ven"] > 0
    assert any(site["site"].startswith("actors/runtime.py:") for site in figures["sites"])
    types = {row["type"]: row for row in figures["types"]}
    # Every VEN has its controller, gateway and shadow syncer: frozen by the run, still counted.
    for actor in ("ControllerActor", "GatewayActor", "ShadowSyncerActor"):
        assert types[actor]["objects_per_ven"] == 1.0
    assert types["DispatchedRef"]["objects_per_ven"] >= 8
