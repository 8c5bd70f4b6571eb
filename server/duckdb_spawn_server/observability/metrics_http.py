"""Serves one registry's `/metrics` over HTTP, and stops promptly.

prometheus_client's `start_http_server` serves the global registry and its
server polls for shutdown every 0.5 s; this one serves the Application's
own registry (prometheus_client's WSGI app, so content negotiation and
gzip are the library's) and polls every 50 ms, so stopping a server takes
milliseconds. Request lines are not logged: the log is JSON only.
"""

from __future__ import annotations

import io
import logging
import socket
import threading
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import CollectorRegistry, make_wsgi_app

log = logging.getLogger(__name__)


class _ErrorsToLog(io.StringIO):
    """wsgiref prints application errors to `wsgi.errors`; send them to the JSON log instead."""

    def close(self) -> None:
        text = self.getvalue().strip()
        if text:
            log.warning("metrics request failed", extra={"detail": text[-2000:]})
        super().close()


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass

    def get_stderr(self) -> io.StringIO:
        self._errors = _ErrorsToLog()
        return self._errors

    def finish(self) -> None:
        super().finish()
        errors = getattr(self, "_errors", None)
        if errors is not None:
            errors.close()


class _ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        log.debug("metrics connection error", exc_info=True)  # a client that went away


class _ThreadingServer6(_ThreadingServer):
    address_family = socket.AF_INET6


class MetricsHttpServer:
    def __init__(self, registry: CollectorRegistry, host: str, port: int) -> None:
        server_class = _ThreadingServer6 if ":" in host else _ThreadingServer
        self._server = make_server(host.strip("[]"), port, make_wsgi_app(registry), server_class=server_class,
                                   handler_class=_QuietHandler)
        self.port: int = self._server.server_port
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="metrics-http", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        if self._thread.is_alive():
            self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
