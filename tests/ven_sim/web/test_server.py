"""`ven_sim.web.server.WebServer` against a small fake VEN: every route, error and token rule."""

from __future__ import annotations

import http.client
import json
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from ven_sim.web.server import WebServer, is_loopback

TOKEN = "s3cret-token"


@dataclass
class FakeConfig:
    thing_name: str = "fake-ven"
    panel_amps: int = 200


class FakeState:
    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self.loads = [
            {"id": "hvac1", "name": "HVAC", "type": "HVAC", "capacityKw": 7.2,
             "currentPowerKw": 3.5, "shedCapabilityKw": 0.3, "enabled": True, "priority": 3},
            {"id": "ev1", "name": "EV Charger", "type": "EV Charger", "capacityKw": 12.0,
             "currentPowerKw": 0.0, "shedCapabilityKw": 0.0, "enabled": True, "priority": 8},
        ]

    def snapshot(self) -> dict[str, Any]:
        telemetry = {"venId": "fake-ven", "timestamp": 1_700_000_000, "usedPowerKw": 3.5,
                     "baselinePowerKw": 3.5, "shedPowerKw": 0.0, "panelAmperageRating": 200,
                     "loads": [dict(row) for row in self.loads]}
        point = {"ts": 1_700_000_000, "usedKw": 3.5, "baselineKw": 3.5, "shedKw": 0.0}
        return {"telemetry": telemetry, "history": [point], "events": list(self.events),
                "lastEvent": None, "connected": True, "linkReason": None}


@dataclass
class FakeVen:
    """What WebServer uses of LiveVen, recording every control call."""

    config: FakeConfig = field(default_factory=FakeConfig)
    circuit_ids: list[str] = field(default_factory=lambda: ["hvac1", "ev1"])
    state: FakeState = field(default_factory=FakeState)
    calls: list[tuple[Any, ...]] = field(default_factory=list)
    broken: bool = False

    def set_circuit(self, circuit_id: str, enabled: bool) -> None:
        if self.broken:
            raise RuntimeError("boom")
        if circuit_id not in self.circuit_ids:
            raise KeyError(circuit_id)
        self.calls.append(("set_circuit", circuit_id, enabled))

    def trigger_event(self, requested_kw: float, duration_s: float) -> str:
        event_id = f"local-{len(self.state.events) + 1}"
        self.state.events.append({"eventId": event_id, "requestedKw": requested_kw,
                                  "actualShedKw": 0.3, "circuits": []})
        self.calls.append(("trigger_event", requested_kw, duration_s))
        return event_id

    def restore_event(self, event_id: str) -> None:
        self.state.events = [e for e in self.state.events if e["eventId"] != event_id]
        self.calls.append(("restore_event", event_id))

    def set_panel(self, amps: int) -> None:
        self.calls.append(("set_panel", amps))


def call(server: WebServer, method: str, path: str, body: Any = None, *,
         raw: bytes | None = None, headers: dict[str, str] | None = None,
         host: str = "127.0.0.1") -> tuple[int, dict[str, str], Any]:
    """One request; returns status, headers and the decoded JSON (or bytes) body."""
    conn = http.client.HTTPConnection(host, server.port, timeout=10)
    data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
    all_headers = {"Content-Type": "application/json", **(headers or {})}
    conn.request(method, path, body=data, headers=all_headers)
    resp = conn.getresponse()
    payload = resp.read()
    conn.close()
    resp_headers = {k.lower(): v for k, v in resp.getheaders()}
    if resp_headers.get("content-type", "").startswith("application/json"):
        return resp.status, resp_headers, json.loads(payload)
    return resp.status, resp_headers, payload


@pytest.fixture
def ven() -> FakeVen:
    return FakeVen()


@pytest.fixture
def server(ven: FakeVen) -> Iterator[WebServer]:
    web = WebServer(ven, host="127.0.0.1", port=0)
    web.start()
    try:
        yield web
    finally:
        web.stop()


# -- static files ------------------------------------------------------------------------
@pytest.mark.parametrize(("path", "content_type", "needle"), [
    ("/", "text/html", b'id="chart"'),
    ("/static/index.html", "text/html", b'id="used-kw"'),
    ("/static/app.js", "text/javascript", b"/api/state"),
    ("/static/style.css", "text/css", b"--used"),
])
def test_static_files(server: WebServer, path: str, content_type: str, needle: bytes) -> None:
    status, headers, body = call(server, "GET", path)
    assert status == 200
    assert headers["content-type"].startswith(content_type)
    assert needle in body
    assert "default-src 'none'" in headers["content-security-policy"]
    assert headers["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize("path", [
    "/static/../server.py", "/static/..%2fserver.py", "/static/%2e%2e%2fapi.py",
    "/static/../../../../etc/passwd", "/static/%2e%2e/%2e%2e/setup.cfg", "/static/",
    "/static/__init__.py", "/static/static/app.js", "/static//etc/passwd", "/../api.py",
    "/static/app.js/", "/static/./app.js", "/index.html", "/nope",
])
def test_static_refuses_anything_else(server: WebServer, path: str) -> None:
    status, _, body = call(server, "GET", path)
    assert status == 404
    assert "error" in body


# -- state -------------------------------------------------------------------------------
def test_state_is_the_snapshot_plus_facts(server: WebServer, ven: FakeVen) -> None:
    status, headers, state = call(server, "GET", "/api/state?x=1")
    assert status == 200
    assert headers["cache-control"] == "no-store"
    assert state["thingName"] == "fake-ven"
    assert state["circuits"] == ["hvac1", "ev1"]
    assert state["panelAmps"] == 200 and state["panelSizes"] == [100, 150, 200]
    assert abs(state["now"] - time.time()) < 5
    assert state["tokenRequired"] is False
    assert state["telemetry"]["loads"][0]["id"] == "hvac1"
    assert state["history"] == ven.state.snapshot()["history"]
    assert state["events"] == [] and state["connected"] is True


# -- controls ----------------------------------------------------------------------------
def test_circuit_toggle(server: WebServer, ven: FakeVen) -> None:
    status, _, body = call(server, "POST", "/api/circuits/ev1", {"enabled": False})
    assert (status, body["enabled"]) == (200, False)
    assert call(server, "POST", "/api/circuits/hvac1", {"enabled": True})[0] == 200
    assert ven.calls == [("set_circuit", "ev1", False), ("set_circuit", "hvac1", True)]


@pytest.mark.parametrize(("path", "raw", "status"), [
    ("/api/circuits/nope", b'{"enabled": false}', 404),
    ("/api/circuits/ev1", b'{"enabled": "no"}', 400),
    ("/api/circuits/ev1", b'{"enabled": 0}', 400),
    ("/api/circuits/ev1", b"{}", 400),
    ("/api/circuits/ev1", b"not json", 400),
    ("/api/circuits/ev1", b"[true]", 400),
    ("/api/circuits/ev1", b"", 400),
    ("/api/circuits/ev1", b"\xff\xfe{", 400),
    ("/api/circuits/ev1", b"[" * 10000, 400),
    ("/api/events", b'{"requestedKw": -1, "durationS": 60}', 400),
    ("/api/events", b'{"requestedKw": 1, "durationS": 0}', 400),
    ("/api/events", b'{"requestedKw": "2", "durationS": 60}', 400),
    ("/api/events", b'{"requestedKw": true, "durationS": 60}', 400),
    ("/api/events", b'{"requestedKw": NaN, "durationS": 60}', 400),
    ("/api/events", b'{"requestedKw": 1, "durationS": 1e999}', 400),
    ("/api/events", b'{"requestedKw": 1, "durationS": 1' + b"0" * 400 + b"}", 400),
    ("/api/events", b'{"requestedKw": 1}', 400),
    ("/api/events/unknown/restore", b"", 404),
    ("/api/panel", b'{"amps": 120}', 400),
    ("/api/panel", b'{"amps": "200"}', 400),
    ("/api/panel", b'{"amps": true}', 400),
    ("/api/panel", b"{}", 400),
])
def test_bad_input_is_refused(server: WebServer, ven: FakeVen, path: str, raw: bytes,
                              status: int) -> None:
    got, headers, body = call(server, "POST", path, raw=raw)
    assert got == status, body
    assert headers["content-type"] == "application/json"
    assert isinstance(body["error"], str) and body["error"]
    assert ven.calls == []


def test_event_trigger_and_restore(server: WebServer, ven: FakeVen) -> None:
    status, _, body = call(server, "POST", "/api/events", {"requestedKw": 2.5, "durationS": 600})
    assert status == 200 and body["eventId"] == "local-1"
    assert ven.calls == [("trigger_event", 2.5, 600.0)]
    (event,) = call(server, "GET", "/api/state")[2]["events"]
    assert event["eventId"] == "local-1"
    assert abs(event["endTs"] - (time.time() + 600)) < 5  # the page's countdown
    assert call(server, "POST", "/api/events", {"requestedKw": 0, "durationS": 1})[0] == 200
    status, _, body = call(server, "POST", "/api/events/local-1/restore")  # no body needed
    assert (status, body["eventId"]) == (200, "local-1")
    assert ven.calls[-1] == ("restore_event", "local-1")
    assert [e["eventId"] for e in call(server, "GET", "/api/state")[2]["events"]] == ["local-2"]


def test_panel(server: WebServer, ven: FakeVen) -> None:
    for amps in (100, 150, 200):
        status, _, body = call(server, "POST", "/api/panel", {"amps": amps})
        assert (status, body["panelAmps"]) == (200, amps)
    assert ven.calls == [("set_panel", 100), ("set_panel", 150), ("set_panel", 200)]
    status, _, body = call(server, "POST", "/api/panel", {"amps": 120})
    assert (status, body["error"]) == (400, "amps must be 100, 150 or 200")


def test_methods_sizes_and_failures(server: WebServer, ven: FakeVen,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    status, headers, _ = call(server, "GET", "/api/panel")
    assert (status, headers["allow"]) == (405, "POST")
    assert call(server, "POST", "/api/state", {})[0] == 405
    assert call(server, "POST", "/", {})[0] == 405
    assert call(server, "PUT", "/api/panel", {"amps": 100})[0] == 501
    assert call(server, "POST", "/api/panel", raw=b" " * 20_000)[0] == 413
    assert call(server, "POST", "/api/panel", raw=b"{}",
                headers={"Content-Length": "x"})[0] == 400
    ven.broken = True  # a bug behind the API: a 500, and the server keeps serving
    status, _, body = call(server, "POST", "/api/circuits/ev1", {"enabled": False})
    assert (status, body) == (500, {"error": "internal error"})
    assert call(server, "GET", "/api/state")[0] == 200
    assert capsys.readouterr().err == ""  # no per-request lines on stderr


def test_client_hanging_up_does_not_hurt(server: WebServer) -> None:
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        sock.sendall(b"POST /api/panel HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 50\r\n\r\n{")
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        sock.sendall(b"BREW /pot HTTP/1.1\r\n\r\n")
        assert sock.recv(100).startswith(b"HTTP/1.0 501")
    assert call(server, "GET", "/api/state")[0] == 200


# -- origin and tokens -------------------------------------------------------------------
def test_loopback_refuses_foreign_host_and_origin(server: WebServer) -> None:
    assert call(server, "GET", "/api/state", headers={"Host": "evil.example"})[0] == 403
    assert call(server, "GET", "/api/state", headers={"Host": "localhost:1"})[0] == 200
    cross = {"Origin": "http://evil.example"}
    assert call(server, "POST", "/api/panel", {"amps": 100}, headers=cross)[0] == 403
    same = {"Origin": f"http://127.0.0.1:{server.port}", "Host": f"127.0.0.1:{server.port}"}
    assert call(server, "POST", "/api/panel", {"amps": 100}, headers=same)[0] == 200


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.5", "::", "ven.example.com"])
@pytest.mark.parametrize("token", [None, ""])
def test_non_loopback_needs_a_token(ven: FakeVen, host: str, token: str | None) -> None:
    with pytest.raises(ValueError, match="not loopback: give a token"):
        WebServer(ven, host=host, port=0, token=token)


@pytest.mark.parametrize(("host", "loopback"), [
    ("127.0.0.1", True), ("127.3.2.1", True), ("::1", True), ("[::1]", True),
    ("localhost", True), ("LOCALHOST", True), ("0.0.0.0", False), ("::", False),
    ("10.0.0.1", False), ("", False), ("example.com", False),
])
def test_is_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_token_on_all_interfaces(ven: FakeVen) -> None:
    web = WebServer(ven, host="0.0.0.0", port=0, token=TOKEN, allowed_hosts=("ven.lan",))
    web.start()
    try:
        auth = {"Authorization": f"Bearer {TOKEN}"}
        assert call(web, "GET", "/api/state", headers={"Host": "ven.lan"})[0] == 401
        state = call(web, "GET", "/api/state", headers={"Host": "ven.lan", **auth})
        assert state[0] == 200 and state[2]["tokenRequired"] is True
        assert call(web, "GET", "/")[0] == 200  # the page holds no data; it reads #token
        assert call(web, "GET", "/static/app.js")[0] == 200
        assert call(web, "GET", "/nowhere")[0] == 401
        body = {"enabled": False}
        status, headers, _ = call(web, "POST", "/api/circuits/ev1", body)
        assert status == 401 and headers["www-authenticate"].startswith("Bearer")
        for wrong in ({"Authorization": "Bearer nope"}, {"X-Token": "nope"},
                      {"Authorization": TOKEN}, {"Authorization": "Bearer ünïcode"}):
            assert call(web, "POST", "/api/circuits/ev1", body, headers=wrong)[0] == 401
        assert ven.calls == []
        for good in ({"Authorization": f"Bearer {TOKEN}"}, {"authorization": f"bearer {TOKEN}"},
                     {"X-Token": TOKEN}):
            assert call(web, "POST", "/api/circuits/ev1", body, headers=good)[0] == 200
        assert len(ven.calls) == 3
    finally:
        web.stop()


def test_loopback_with_a_token_requires_it(ven: FakeVen) -> None:
    web = WebServer(ven, host="localhost", port=0, token=TOKEN)
    web.start()
    try:
        assert call(web, "POST", "/api/panel", {"amps": 150})[0] == 401
        auth = {"Authorization": f"Bearer {TOKEN}"}
        assert call(web, "POST", "/api/panel", {"amps": 150}, headers=auth)[0] == 200
        assert call(web, "GET", "/api/state")[2]["panelAmps"] == 200  # telemetry's value
    finally:
        web.stop()


def test_ipv6_loopback(ven: FakeVen) -> None:
    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
    except OSError:
        pytest.skip("no IPv6 loopback on this machine")
    web = WebServer(ven, host="::1", port=0)
    web.start()
    try:
        assert call(web, "GET", "/api/state", host="::1")[0] == 200
    finally:
        web.stop()


def test_start_and_stop(ven: FakeVen) -> None:
    web = WebServer(ven)
    assert (web.host, web.port) == ("127.0.0.1", 0)
    web.start()
    port = web.port
    assert port > 0
    with pytest.raises(RuntimeError):
        web.start()
    web.stop()
    web.stop()  # twice is fine
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=2).close()


@pytest.mark.parametrize(("bind", "host", "status"), [
    ("0.0.0.0", "evil.example", 403),  # DNS rebinding: a name this server was not given
    ("0.0.0.0", "ven.lan:8080", 200),
    ("0.0.0.0", "10.1.2.3:8080", 200),  # an address cannot be rebound
    ("0.0.0.0", None, 400),
    ("127.0.0.1", "ven.lan", 403),
])
def test_host_header_is_checked_off_loopback_too(ven: FakeVen, bind: str, host: str | None,
                                                 status: int) -> None:
    token = TOKEN if bind == "0.0.0.0" else None
    web = WebServer(ven, host=bind, port=0, token=token, allowed_hosts=("ven.lan",))
    web.start()
    try:
        conn = http.client.HTTPConnection("127.0.0.1", web.port, timeout=10)
        conn.putrequest("GET", "/api/state", skip_host=True)
        if host is not None:
            conn.putheader("Host", host)
        conn.putheader("Authorization", f"Bearer {TOKEN}")
        conn.endheaders()
        assert conn.getresponse().status == status
        conn.close()
    finally:
        web.stop()


def test_token_is_checked_before_a_body_is_read(ven: FakeVen) -> None:
    web = WebServer(ven, host="0.0.0.0", port=0, token=TOKEN)
    web.start()
    try:
        with socket.create_connection(("127.0.0.1", web.port), timeout=5) as sock:
            # 16 KB announced, none sent: answered 401 at once, not after the read timeout.
            sock.sendall(b"POST /api/panel HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                         b"Content-Length: 16000\r\n\r\n")
            assert sock.recv(100).startswith(b"HTTP/1.0 401")
    finally:
        web.stop()


def test_an_incomplete_body_is_logged_at_debug_only(server: WebServer,
                                                    caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("DEBUG", logger="ven_sim.web.server")
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        sock.sendall(b"POST /api/panel HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                     b"Content-Length: 50\r\n\r\n{")
        sock.shutdown(socket.SHUT_WR)
        assert sock.recv(100) == b""  # nobody to answer: closed without a response
    assert call(server, "GET", "/api/state")[0] == 200
    incomplete = [r for r in caplog.records if "body ended after 1 of 50 bytes" in r.getMessage()]
    assert [r.levelname for r in incomplete] == ["DEBUG"]
    assert not [r for r in caplog.records if r.levelno >= 30]
