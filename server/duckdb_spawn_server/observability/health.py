"""Readiness and liveness as the standard gRPC health service reports them.

`""` is readiness: NOT_SERVING until the database is open and a schema is
loaded, and again from the moment a drain starts. `"liveness"` is SERVING
while the process can answer at all. grpcio-health-checking starts every
service as SERVING, so the constructor sets readiness to NOT_SERVING first.
"""

from __future__ import annotations

import threading

from grpc_health.v1 import health, health_pb2

READINESS = ""
LIVENESS = "liveness"


class HealthState:
    def __init__(self, service_names: tuple[str, ...]) -> None:
        self.servicer = health.HealthServicer(experimental_non_blocking=True)
        self._service_names = service_names
        self._lock = threading.Lock()
        self._ready = False
        self._draining = False
        self._publish()
        self.servicer.set(LIVENESS, health_pb2.HealthCheckResponse.SERVING)

    @property
    def ready(self) -> bool:
        return self._ready and not self._draining

    def set_ready(self, ready: bool) -> None:
        with self._lock:
            self._ready = ready
            self._publish()

    def start_draining(self) -> None:
        with self._lock:
            self._draining = True
            self._publish()

    def _publish(self) -> None:
        status = (health_pb2.HealthCheckResponse.SERVING if self._ready and not self._draining
                  else health_pb2.HealthCheckResponse.NOT_SERVING)
        for name in (READINESS, *self._service_names):
            self.servicer.set(name, status)
