"""A real HTTP ontology server on loopback: GET /health and GET /schemas/{id}.

It serves the seed's contract with the built-in mock's documents and can
be stopped and started again on the same port, to test outages.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from duckdb_spawn_server.ontology.mock import MOCK_SCHEMAS


class _Handler(BaseHTTPRequestHandler):
    schemas: dict[str, Any] = MOCK_SCHEMAS

    def do_GET(self) -> None:
        if self.path == "/health":
            self._send(200, {"status": "healthy"})
        elif self.path.startswith("/schemas/") and self.path.removeprefix("/schemas/") in self.schemas:
            self._send(200, self.schemas[self.path.removeprefix("/schemas/")])
        else:
            self._send(404, {"detail": "not found"})

    def _send(self, status: int, body: Any) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:
        pass


class OntologyServer:
    def __init__(self, port: int = 0) -> None:
        self.port = port
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> OntologyServer:
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), _Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_port
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
