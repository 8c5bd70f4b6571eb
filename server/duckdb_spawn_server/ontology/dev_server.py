"""A development ontology server: serves a directory of schema files over HTTP.

    duckdb-spawn-ontology-server --dir DIR --port 8001     (or: make ontology)

`GET /schemas/{id}` answers with the bytes of `DIR/{id}.json` and a strong
ETag (a hash of those bytes), or 304 when `If-None-Match` matches; files
are read on every request, so editing one changes the schema the service
sees at its next refresh. `GET /health` answers `{"status": "healthy"}`.
Anything else is 404. Without `--dir` it serves the example schemas shipped
in this package (ontology/dev_schemas/).

Tests run it in-process on port 0 (`OntologyDevServer`), and use `delay`
to play a slow server and `requests` to count what the service asked.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import re
import sys
import threading
import time
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

log = logging.getLogger(__name__)

EXAMPLE_SCHEMAS = Path(__file__).with_name("dev_schemas")
_SCHEMA_PATH = re.compile(r"^/schemas/([A-Za-z0-9][A-Za-z0-9_.-]{0,127})$")


@dataclass(frozen=True)
class Served:
    """One request the server answered."""

    path: str
    status: int
    if_none_match: str


class OntologyDevServer:
    def __init__(self, directory: Path, host: str = "127.0.0.1", port: int = 0) -> None:
        self.directory = Path(directory)
        self.delay = 0.0  # seconds to wait before answering (a slow server)
        self.requests: list[Served] = []
        self._lock = threading.Lock()
        self.in_flight = 0  # requests being answered now
        self._httpd = _QuietServer((host, port), self._handler_class())
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        host = self._httpd.server_address[0]
        return f"http://{host}:{self.port}"

    def start(self) -> OntologyDevServer:
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="ontology-dev-server", daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Serves in the calling thread until interrupted (the console script)."""
        try:
            self._httpd.serve_forever(poll_interval=0.2)
        except KeyboardInterrupt:
            pass
        finally:
            self._httpd.server_close()

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def count(self, path: str, status: int | None = None) -> int:
        with self._lock:
            return sum(1 for r in self.requests if r.path == path and (status is None or r.status == status))

    def _record(self, served: Served) -> None:
        with self._lock:
            self.requests.append(served)

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, so the client's connection reuse is real

            def do_GET(self) -> None:  # the stdlib names it
                with server._lock:
                    server.in_flight += 1
                try:
                    self._answer()
                finally:
                    with server._lock:
                        server.in_flight -= 1

            def _answer(self) -> None:
                if server.delay:
                    time.sleep(server.delay)
                if self.path == "/health":
                    self._send(HTTPStatus.OK, json.dumps({"status": "healthy"}).encode())
                    return
                match = _SCHEMA_PATH.match(self.path)
                path = server.directory / f"{match.group(1)}.json" if match else None
                if path is None or not path.is_file():
                    self._send(HTTPStatus.NOT_FOUND, json.dumps({"detail": "schema not found"}).encode())
                    return
                body = path.read_bytes()
                etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
                if self.headers.get("If-None-Match", "") == etag:
                    self._send(HTTPStatus.NOT_MODIFIED, b"", etag)
                    return
                self._send(HTTPStatus.OK, body, etag)

            def _send(self, status: HTTPStatus, body: bytes, etag: str = "") -> None:
                server._record(Served(self.path, int(status), self.headers.get("If-None-Match", "")))
                self.send_response(status)
                if etag:
                    self.send_header("ETag", etag)
                if status != HTTPStatus.NOT_MODIFIED:
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if status != HTTPStatus.NOT_MODIFIED:
                    self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                log.info("ontology request: " + format % args)

        return Handler


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        """A client that hung up (it timed out) is normal here, not a stack trace."""
        if not isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            super().handle_error(request, client_address)  # type: ignore[arg-type]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="duckdb-spawn-ontology-server", description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, default=EXAMPLE_SCHEMAS, help="directory of {schema_id}.json files")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001)
    args = parser.parse_args(argv)
    if not args.dir.is_dir():
        print(f"duckdb-spawn-ontology-server: {args.dir} is not a directory", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    server = OntologyDevServer(args.dir, args.host, args.port)
    print(f"serving {args.dir} on {server.url} (GET /schemas/{{id}}, GET /health)", flush=True)
    server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
