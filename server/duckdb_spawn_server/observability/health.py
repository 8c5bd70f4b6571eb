"""Readiness and liveness as the standard gRPC health service reports them.

`""` is readiness: SERVING only when start-up has completed, every
dependency the monitor watches answers (the database can answer a query, a
schema has loaded), and no drain has started. `"liveness"` is SERVING
while the process can serve, whatever its dependencies do, until something
fails that only a restart repairs (DuckDB invalidated the database). The
statuses live here, free of grpc, and change from any thread; the Health
servicer (api/health_servicer.py) answers Check from them and is told of
every change for Watch. A status is published only when it changes, so
`Watch` streams see each change once.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from grpc_health.v1 import health_pb2

READINESS = ""
LIVENESS = "liveness"
SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING

log = logging.getLogger(__name__)

Listener = Callable[[str, int], None]  # (service, status)


class HealthState:
    def __init__(self, service_names: tuple[str, ...]) -> None:
        self._service_names = service_names
        self._lock = threading.Lock()
        self._started = False
        self._draining = False
        self._alive = True
        self._failing: dict[str, str] = {}  # dependency -> why it fails
        self._statuses: dict[str, int] = {LIVENESS: SERVING}
        self._listeners: list[Listener] = []
        self._published: bool | None = None
        self._publish()

    @property
    def ready(self) -> bool:
        return self._started and not self._draining and not self._failing

    @property
    def failing(self) -> dict[str, str]:
        return dict(self._failing)

    def status(self, service: str) -> int | None:
        """The status of a health service name; None for a name this server does not know."""
        return self._statuses.get(service)

    def statuses(self) -> dict[str, int]:
        return dict(self._statuses)

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """`listener(service, status)` runs on every change, in the changing thread; returns an unsubscribe."""
        with self._lock:
            self._listeners.append(listener)

        def unsubscribe() -> None:
            with self._lock:
                if listener in self._listeners:
                    self._listeners.remove(listener)

        return unsubscribe

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
            self._alive = False
            self._publish()
            self._set(LIVENESS, NOT_SERVING)
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
        status = SERVING if ready else NOT_SERVING
        for name in (READINESS, *self._service_names):
            self._set(name, status)
        if self._started or self._draining:
            log.info("readiness changed", extra={"ready": ready})

    def _set(self, service: str, status: int) -> None:
        self._statuses[service] = status
        for listener in list(self._listeners):
            listener(service, status)
