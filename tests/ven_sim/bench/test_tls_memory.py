"""`ven-sim bench tls-memory` against the bench's own mosquitto: every side connects every
connection with mutual TLS, and report their contexts and per-connection figures."""

from __future__ import annotations

import json

from click.testing import CliRunner

from ven_sim.cli import main


def test_every_side_connects_and_counts_its_contexts() -> None:
    result = CliRunner().invoke(main, ["bench", "tls-memory", "--connections", "20",
                                       "--per-context", "10", "--repeat", "1"])
    assert result.exit_code == 0, result.output
    figures = json.loads(result.stdout[result.stdout.index("{"):])
    assert (figures["connections"], figures["per_context"]) == (20, 10)
    own, shared = figures["runs"]["context_each"][0], figures["runs"]["context_per_10"][0]
    one = figures["runs"]["one_context"][0]
    assert (own["connections"], own["contexts"]) == (20, 20)
    assert (shared["connections"], shared["contexts"]) == (20, 2)
    assert (one["connections"], one["contexts"]) == (20, 1)
    for side in (own, shared, one):
        for step in ("contexts_kb_per_connection", "connections_kb_per_connection",
                     "total_kb_per_connection"):
            assert set(side[step]) == {"rss", "malloc_in_use"}
    # Twenty contexts with a key each hold more malloc'd memory than two.
    assert (own["contexts_kb_per_connection"]["malloc_in_use"]
            > shared["contexts_kb_per_connection"]["malloc_in_use"])


def test_tls_1_2_without_tickets_is_what_the_connections_negotiated() -> None:
    result = CliRunner().invoke(main, ["bench", "tls-memory", "--connections", "4",
                                       "--per-context", "2", "--repeat", "1",
                                       "--tls-version", "1.2", "--no-tickets"])
    assert result.exit_code == 0, result.output
    figures = json.loads(result.stdout[result.stdout.index("{"):])
    assert (figures["tls_version"], figures["no_tickets"]) == ("1.2", True)
    for runs in figures["runs"].values():
        assert runs[0]["tls_version"] == "TLSv1.2"
        assert runs[0]["session_tickets"] == 0  # OP_NO_TICKET: none asked for, none kept


def test_tls_1_3_connections_keep_the_brokers_session_tickets() -> None:
    result = CliRunner().invoke(main, ["bench", "tls-memory", "--connections", "4",
                                       "--per-context", "2", "--repeat", "1"])
    assert result.exit_code == 0, result.output
    figures = json.loads(result.stdout[result.stdout.index("{"):])
    for runs in figures["runs"].values():
        assert runs[0]["tls_version"] == "TLSv1.3"
        assert runs[0]["session_tickets"] == 4
