"""The web UI of `ven-sim live`: three static files and a small JSON API.

Standard library only: a `ThreadingHTTPServer` on a daemon thread. Reading (every GET)
is open; the control endpoints (every POST) need the token whenever one is set, and one
must be set when the server listens on anything but loopback. On loopback the `Host`
header must name loopback too (no DNS rebinding), and a POST from another origin is
refused (no cross-site requests).

Routes: GET /, GET /static/<file>, GET /api/state, POST /api/circuits/<id>,
POST /api/events, POST /api/events/<id>/restore, POST /api/panel.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import logging
import math
import re
import socket
import socketserver
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import unquote, urlsplit

logger = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).with_name("static")
STATIC_TYPES = {  # the only files served: no directory listing, no traversal
    "index.html": "text/html; charset=utf-8",
    "app.js": "text/javascript; charset=utf-8",
    "style.css": "text/css; charset=utf-8",
}
PANEL_AMPS = (100, 150, 200)
MAX_BODY_BYTES = 16 * 1024
MAX_EVENT_KW = 1000.0
MAX_EVENT_S = 7 * 24 * 3600.0
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")


class _Snapshots(Protocol):
    def snapshot(self) -> dict[str, Any]: ...


class VenControls(Protocol):
    """What the server needs of `sim.live.LiveVen`."""

    @property
    def state(self) -> _Snapshots: ...
    @property
    def config(self) -> Any: ...  # .thing_name, .panel_amps
    @property
    def circuit_ids(self) -> list[str]: ...
    def set_circuit(self, circuit_id: str, enabled: bool) -> None: ...
    def trigger_event(self, requested_kw: float, duration_s: float) -> str: ...
    def restore_event(self, event_id: str) -> None: ...
    def set_panel(self, amps: int) -> None: ...


class ApiError(Exception):
    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}


@dataclass
class Response:
    status: int
    body: bytes
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)


def json_response(payload: Any, status: int = 200) -> Response:
    return Response(status, json.dumps(payload, allow_nan=False).encode("utf-8"))


def is_loopback(host: str) -> bool:
    """127.0.0.0/8, ::1 or "localhost"; any other name or address is not."""
    host = host.strip().strip("[]").lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _number(body: dict[str, Any], key: str, low: float, high: float, *, open_low: bool) -> float:
    value = body.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ApiError(400, f"{key} must be a number")
    try:
        number = float(value)
    except OverflowError:
        number = math.inf
    if not math.isfinite(number) or number < low or (open_low and number == low):
        raise ApiError(400, f"{key} must be {'>' if open_low else '>='} {low:g}")
    if number > high:
        raise ApiError(400, f"{key} must be at most {high:g}")
    return number


_ROUTES: tuple[tuple[str, re.Pattern[str], str], ...] = (
    ("GET", re.compile(r"/"), "get_index"),
    ("GET", re.compile(r"/static/(?P<arg>[^/]+)"), "get_static"),
    ("GET", re.compile(r"/api/state"), "get_state"),
    ("POST", re.compile(r"/api/circuits/(?P<arg>[^/]+)"), "post_circuit"),
    ("POST", re.compile(r"/api/events"), "post_event"),
    ("POST", re.compile(r"/api/events/(?P<arg>[^/]+)/restore"), "post_restore"),
    ("POST", re.compile(r"/api/panel"), "post_panel"),
)


class WebServer:
    """Serves the live VEN's page and API on `host:port` (port 0: a free one) until `stop()`."""

    def __init__(self, ven: VenControls, *, host: str = "127.0.0.1", port: int = 0,
                 token: str | None = None) -> None:
        self.ven = ven
        self.host = host
        self.port = port  # the bound port once started
        self.token = token or None
        self.loopback = is_loopback(host)
        if not self.loopback and self.token is None:
            raise ValueError(
                f"the web UI would listen on {host!r}, which is not loopback: give a token "
                "(--web-token or WEB_TOKEN) to protect its controls, or use --web-host 127.0.0.1"
            )
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._ends: dict[str, float] = {}  # epoch end of the events started here
        self._panel_amps = int(getattr(ven.config, "panel_amps", 200))

    # -- lifecycle --------------------------------------------------------------------
    def start(self) -> None:
        if self._httpd is not None:
            raise RuntimeError("the web server is already running")
        self._httpd = _HTTPServer((self.host, self.port), self)
        self.port = int(self._httpd.server_address[1])
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.2,),
                                        name=f"ven-web-{self.port}", daemon=True)
        self._thread.start()
        logger.info("web UI on http://%s:%d/", self.host, self.port)

    def stop(self) -> None:
        httpd, thread = self._httpd, self._thread
        self._httpd = self._thread = None
        if httpd is None:
            return
        httpd.shutdown()
        httpd.server_close()
        if thread is not None:
            thread.join(5.0)

    # -- requests ---------------------------------------------------------------------
    def handle(self, method: str, target: str, headers: Any, read_body: Any) -> Response:
        """Route one request; raises ApiError for anything a client got wrong."""
        path = urlsplit(target).path
        allowed = []
        for route_method, pattern, name in _ROUTES:
            match = pattern.fullmatch(path)
            if match is None:
                continue
            if route_method != method:
                allowed.append(route_method)
                continue
            if method == "POST":
                self._authorize(headers)
            arg = unquote(match.group("arg")) if "arg" in pattern.groupindex else None
            body = read_body() if method == "POST" else None
            handler = getattr(self, name)
            return handler(arg, body) if arg is not None else handler(body)
        if allowed:
            raise ApiError(405, f"{path} takes {', '.join(allowed)}",
                           {"Allow": ", ".join(allowed)})
        raise ApiError(404, f"no such resource: {path}")

    def check_origin(self, method: str, headers: Any) -> None:
        host = headers.get("Host")
        if self.loopback and host is not None and not is_loopback(
                urlsplit(f"//{host}").hostname or ""):
            raise ApiError(403, f"Host {host!r} is not this loopback server")
        origin = headers.get("Origin")
        if method == "POST" and origin is not None and (
                host is None or urlsplit(origin).netloc.lower() != host.lower()):
            raise ApiError(403, "cross-origin requests are not allowed")

    def _authorize(self, headers: Any) -> None:
        if self.token is None:
            return
        given = headers.get("X-Token")
        auth = headers.get("Authorization") or ""
        if given is None and auth[:7].lower() == "bearer ":
            given = auth[7:].strip()
        if given is None or not hmac.compare_digest(given.encode(), self.token.encode()):
            raise ApiError(401, "missing or wrong token (Authorization: Bearer <token>)",
                           {"WWW-Authenticate": 'Bearer realm="ven-sim"'})

    # -- routes -----------------------------------------------------------------------
    def get_index(self, _body: None) -> Response:
        return self.get_static("index.html", None)

    def get_static(self, name: str, _body: None) -> Response:
        content_type = STATIC_TYPES.get(name)
        if content_type is None:
            raise ApiError(404, f"no such file: {name}")
        return Response(200, (STATIC_DIR / name).read_bytes(), content_type)

    def get_state(self, _body: None) -> Response:
        return json_response(self.state())

    def state(self) -> dict[str, Any]:
        """The snapshot plus thingName, circuits, panelAmps, now, tokenRequired."""
        snapshot = dict(self.ven.state.snapshot())
        now = time.time()
        with self._lock:
            for event_id in [k for k, end in self._ends.items() if end < now - 60.0]:
                del self._ends[event_id]
            ends = dict(self._ends)
        snapshot["events"] = [{**event, "endTs": ends.get(event.get("eventId"))}
                              for event in snapshot.get("events") or []]
        telemetry = snapshot.get("telemetry") or {}
        snapshot.update(
            thingName=self.ven.config.thing_name,
            circuits=list(self.ven.circuit_ids),
            panelAmps=telemetry.get("panelAmperageRating", self._panel_amps),
            now=now,
            tokenRequired=self.token is not None,
        )
        return snapshot

    def post_circuit(self, circuit_id: str, body: dict[str, Any]) -> Response:
        if circuit_id not in self.ven.circuit_ids:
            raise ApiError(404, f"no such circuit: {circuit_id}")
        enabled = body.get("enabled")
        if not isinstance(enabled, bool):
            raise ApiError(400, "enabled must be true or false")
        try:
            self.ven.set_circuit(circuit_id, enabled)
        except KeyError:
            raise ApiError(404, f"no such circuit: {circuit_id}") from None
        return json_response({"ok": True, "circuit": circuit_id, "enabled": enabled})

    def post_event(self, body: dict[str, Any]) -> Response:
        kw = _number(body, "requestedKw", 0.0, MAX_EVENT_KW, open_low=False)
        duration = _number(body, "durationS", 0.0, MAX_EVENT_S, open_low=True)
        try:
            event_id = self.ven.trigger_event(kw, duration)
        except ValueError as exc:
            raise ApiError(400, str(exc)) from None
        end = time.time() + duration
        with self._lock:
            self._ends[event_id] = end
        return json_response({"ok": True, "eventId": event_id, "endTs": end})

    def post_restore(self, event_id: str, _body: Any) -> Response:
        active = {e.get("eventId") for e in self.ven.state.snapshot().get("events") or []}
        with self._lock:
            known = event_id in active or event_id in self._ends
            self._ends.pop(event_id, None)
        if not known:
            raise ApiError(404, f"no active event: {event_id}")
        self.ven.restore_event(event_id)
        return json_response({"ok": True, "eventId": event_id})

    def post_panel(self, body: dict[str, Any]) -> Response:
        amps = body.get("amps")
        if isinstance(amps, bool) or amps not in PANEL_AMPS:
            raise ApiError(400, "amps must be 100, 150 or 200")
        try:
            self.ven.set_panel(int(amps))
        except ValueError as exc:
            raise ApiError(400, str(exc)) from None
        self._panel_amps = int(amps)
        return json_response({"ok": True, "panelAmps": int(amps)})


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], app: WebServer) -> None:
        self.address_family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        self.app = app
        super().__init__(address, _Handler)

    def server_bind(self) -> None:  # without HTTPServer's getfqdn(), a DNS lookup
        socketserver.TCPServer.server_bind(self)
        self.server_name = str(self.server_address[0])
        self.server_port = int(self.server_address[1])

    def handle_error(self, request: Any, client_address: Any) -> None:
        logger.debug("web request from %s failed", client_address, exc_info=True)


class _Handler(BaseHTTPRequestHandler):
    server: _HTTPServer
    server_version = "ven-sim"
    sys_version = ""

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        self._dispatch("GET")

    def do_POST(self) -> None:  # noqa: N802
        self._dispatch("POST")

    def _dispatch(self, method: str) -> None:
        app = self.server.app
        try:
            app.check_origin(method, self.headers)
            response = app.handle(method, self.path, self.headers, self._json_body)
        except ApiError as exc:
            response = json_response({"error": exc.message}, exc.status)
            response.headers.update(exc.headers)
        except Exception:  # a bug, not the client's input: answer, log, keep serving
            logger.exception("web UI: %s %s failed", method, self.path)
            response = json_response({"error": "internal error"}, 500)
        self._send(response)

    def _json_body(self) -> dict[str, Any]:
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            raise ApiError(400, "bad Content-Length") from None
        if length < 0:
            raise ApiError(400, "bad Content-Length")
        if length > MAX_BODY_BYTES:
            raise ApiError(413, f"body over {MAX_BODY_BYTES} bytes")
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw)
        except (ValueError, RecursionError):
            raise ApiError(400, "the body must be a JSON object") from None
        if not isinstance(body, dict):
            raise ApiError(400, "the body must be a JSON object")
        return body

    def _send(self, response: Response) -> None:
        self.send_response(response.status)
        headers = {
            "Content-Type": response.content_type,
            "Content-Length": str(len(response.body)),
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer",
            "Content-Security-Policy": CSP,
            **response.headers,
        }
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(response.body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base's name
        logger.debug("web %s - " + format, self.address_string(), *args)
