"""Readiness and liveness as the standard gRPC health service reports them.

`""` is readiness: SERVING only when start-up has completed, every
dependency the monitor watches answers (the database can answer a query, a
schema has loaded), and no drain has started. `"liveness"` is SERVING
while the process can answer at all, whatever its dependencies do.
grpcio-health-checking starts every service as SERVING, so the constructor
sets readiness to NOT_SERVING first. A status is published only when it
changes, so `Watch` streams see each change once.
"""

from __future__ import annotations

import logging
import threading

from grpc_health.v1 import health, health_pb2

READINESS = ""
LIVENESS = "liveness"

log = logging.getLogger(__name__)


class HealthState:
    def __init__(self, service_names: tuple[str, ...]) -> None:
        self.servicer = health.HealthServicer(experimental_non_blocking=True)
        self._service_names = service_names
        self._lock = threading.Lock()
        self._started = False
        self._draining = False
        self._failing: dict[str, str] = {}  # dependency -> why it fails
        self._published: bool | None = None
        self._publish()
        self.servicer.set(LIVENESS, health_pb2.HealthCheckResponse.SERVING)

    @property
    def ready(self) -> bool:
        return self._started and not self._draining and not self._failing

    @property
    def failing(self) -> dict[str, str]:
        return dict(self._failing)

    def set_ready(self, ready: bool) -> None:
        """Start-up has completed (or not)."""
        with self._lock:
            self._started = ready
            self._publish()

    def set_dependency(self, name: str, ok: bool, reason: str = "") -> None:
        """Records whether a dependency readiness needs is usable."""
        with self._lock:
            if ok:
                if self._failing.pop(name, None) is not None:
                    log.info("dependency recovered", extra={"dependency": name})
            elif name not in self._failing:
                log.warning("dependency failing; not ready", extra={"dependency": name, "reason": reason})
                self._failing[name] = reason
            self._publish()

    def fail_liveness(self, dependency: str, reason: str) -> None:
        """The process cannot recover by itself: liveness and readiness go NOT_SERVING for good."""
        with self._lock:
            self._failing[dependency] = reason
            self._publish()
        self.servicer.set(LIVENESS, health_pb2.HealthCheckResponse.NOT_SERVING)
        log.critical("liveness failing; the process needs a restart", extra={"reason": reason})

    def start_draining(self) -> None:
        with self._lock:
            self._draining = True
            self._publish()

    def _publish(self) -> None:
        ready = self.ready
        if ready == self._published:
            return
        self._published = ready
        status = health_pb2.HealthCheckResponse.SERVING if ready else health_pb2.HealthCheckResponse.NOT_SERVING
        for name in (READINESS, *self._service_names):
            self.servicer.set(name, status)
        if self._started or self._draining:
            log.info("readiness changed", extra={"ready": ready})
