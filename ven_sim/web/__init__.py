"""The web UI of `ven-sim live`: a stdlib HTTP server (`server.WebServer`) and static files."""
