"""The web UI of `ven-sim live`: HTTP on the standard library, around `api.Api`.

A `ThreadingHTTPServer` on a daemon thread. A token must be set when the server listens
on anything but loopback, and then every API request (GET /api/state included) needs it;
only the page's three static files, which hold no data, load without it, so a browser can
open `/#token=...` (the fragment never leaves the browser). On loopback the controls (every
POST) need the token whenever one is set. The `Host` header is checked everywhere (no DNS
rebinding): loopback on loopback, else the address or name the server was bound to, an IP
literal or this machine's name on a wildcard bind, or a name in `allowed_hosts`. A POST
from another origin is refused (no cross-site requests). Origin, Host and token are
checked before a body is read; a client that sends less body than it announced is only
logged at debug.

Routes: GET /, GET /static/<file>, GET /api/state, POST /api/circuits/<id>,
POST /api/events, POST /api/events/<id>/restore, POST /api/panel.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import re
import socket
import socketserver
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote, urlsplit

from ven_sim.web.api import Api, ApiError, Response, VenControls, json_object, json_response

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 16 * 1024
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")


def is_loopback(host: str) -> bool:
    """127.0.0.0/8, ::1 or "localhost"; any other name or address is not."""
    host = host.strip().strip("[]").lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _hostname(url: str) -> str:
    try:
        return urlsplit(url).hostname or ""
    except ValueError:
        return ""


def _netloc(url: str) -> str:
    try:
        return urlsplit(url).netloc.lower()
    except ValueError:
        return ""


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
                 token: str | None = None, allowed_hosts: tuple[str, ...] = ()) -> None:
        self.ven = ven
        self.host = host
        self.port = port  # the bound port once started
        self.token = token or None
        self.loopback = is_loopback(host)
        self.allowed_hosts = {h.strip("[]").lower() for h in (host, *allowed_hosts)}
        self.wildcard = host.strip("[]") in ("0.0.0.0", "::", "")
        if self.wildcard:
            self.allowed_hosts.add(socket.gethostname().lower())
        if not self.loopback and self.token is None:
            raise ValueError(
                f"the web UI would listen on {host!r}, which is not loopback: give a token "
                "(--web-token or WEB_TOKEN) to protect its controls, or use --web-host 127.0.0.1"
            )
        self.api = Api(ven, token_required=self.token is not None)
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle --------------------------------------------------------------------
    def start(self) -> None:
        if self._httpd is not None:
            raise RuntimeError("the web server is already running")
        self._httpd = _HTTPServer((self.host, self.port), self)
        self.port = int(self._httpd.server_address[1])
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,),
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
    def handle(self, method: str, target: str, headers: Any, raw: bytes) -> Response:
        """Route one request; raises ApiError for anything a client got wrong."""
        path = target.split("?", 1)[0]
        allowed = []
        for route_method, pattern, name in _ROUTES:
            match = pattern.fullmatch(path)
            if match is None:
                continue
            if route_method != method:
                allowed.append(route_method)
                continue
            self.authorize(method, path, headers)
            body = json_object(raw) if method == "POST" and name != "post_restore" else {}
            return getattr(self.api, name)(unquote(match.groupdict().get("arg") or ""), body)
        if allowed:
            raise ApiError(405, f"{path} takes {', '.join(allowed)}",
                           {"Allow": ", ".join(allowed)})
        raise ApiError(404, f"no such resource: {path}")

    def check_origin(self, method: str, headers: Any) -> None:
        """`Host` must name this server (see the module doc); a POST's `Origin` too."""
        host = headers.get("Host")
        if host is None:
            if not self.loopback:
                raise ApiError(400, "a Host header is required")
        elif not self._our_host(_hostname(f"//{host}")):
            raise ApiError(403, f"Host {host[:100]!r} is not this server")
        origin = headers.get("Origin")
        if method == "POST" and origin is not None and (
                host is None or _netloc(origin) != host.strip().lower()):
            raise ApiError(403, "cross-origin requests are not allowed")

    def _our_host(self, name: str) -> bool:
        if self.loopback:
            return is_loopback(name)
        if name in self.allowed_hosts:
            return True
        if self.wildcard:
            try:
                ipaddress.ip_address(name)
                return True  # an address: not a name an attacker's DNS could rebind
            except ValueError:
                return is_loopback(name)
        return False

    def authorize(self, method: str, path: str, headers: Any) -> None:
        """The token, where one is needed: off loopback for all but the static files."""
        if self.token is None:
            return
        static = method == "GET" and (path == "/" or path.startswith("/static/"))
        if method == "POST" or (not self.loopback and not static):
            self._check_token(headers)

    def _check_token(self, headers: Any) -> None:
        assert self.token is not None
        given = headers.get("X-Token")
        auth = headers.get("Authorization") or ""
        if given is None and auth[:7].lower() == "bearer ":
            given = auth[7:].strip()
        if given is None or not hmac.compare_digest(given.encode(), self.token.encode()):
            raise ApiError(401, "missing or wrong token (Authorization: Bearer <token>)",
                           {"WWW-Authenticate": 'Bearer realm="ven-sim"'})


class _IncompleteBody(Exception):
    """The client announced more body than it sent: nobody is left to answer."""


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
    timeout = 30.0  # a client that stops sending mid-request does not hold a thread forever

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        self._dispatch("GET")

    def do_POST(self) -> None:  # noqa: N802
        self._dispatch("POST")

    def _dispatch(self, method: str) -> None:
        app = self.server.app
        try:
            app.check_origin(method, self.headers)
            app.authorize(method, self.path.split("?", 1)[0], self.headers)  # before the body
            raw = self._read_body() if method == "POST" else b""
            response = app.handle(method, self.path, self.headers, raw)
        except _IncompleteBody as exc:
            logger.debug("web %s %s from %s: %s", method, self.path[:200],
                         self.address_string(), exc)
            self.close_connection = True
            return
        except ApiError as exc:
            response = json_response({"error": exc.message}, exc.status)
            response.headers.update(exc.headers)
        except Exception:  # a bug, not the client's input: answer, log, keep serving
            logger.exception("web UI: %s %s failed", method, self.path)
            response = json_response({"error": "internal error"}, 500)
        self._send(response)

    def _read_body(self) -> bytes:
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if length < 0:
            raise ApiError(400, "bad Content-Length")
        if length > MAX_BODY_BYTES:
            raise ApiError(413, f"the body is over {MAX_BODY_BYTES} bytes")
        try:
            raw = self.rfile.read(length) if length else b""
        except OSError as exc:  # the client stalled past `timeout` or reset the connection
            raise _IncompleteBody(f"body not received: {exc}") from None
        if len(raw) < length:
            raise _IncompleteBody(f"body ended after {len(raw)} of {length} bytes")
        return raw

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
