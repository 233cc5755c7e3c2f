"""The web UI of `ven-sim live`: a stdlib HTTP server (`server.WebServer`) and static files."""

from ven_sim.web.api import Api, ApiError, Response, VenControls
from ven_sim.web.server import WebServer, is_loopback

__all__ = ["Api", "ApiError", "Response", "VenControls", "WebServer", "is_loopback"]
