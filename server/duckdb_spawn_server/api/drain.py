"""Draining: count calls in flight and, once a drain starts, turn new ones away.

After SIGTERM, readiness goes NOT_SERVING so load balancers stop routing
here; clients that still call get UNAVAILABLE with RetryInfo (retryable,
and clearly "not processed") instead of being cancelled mid-flight, while
calls already running finish. Health checks and reflection are always let
through so probes see the truth.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import grpc

from ..domain.errors import Unavailable
from .handlers import Behavior, Handler, WrappingInterceptor, split_method

_ALWAYS_OPEN = ("grpc.health.v1.Health", "grpc.reflection.v1alpha.ServerReflection",
                "grpc.reflection.v1.ServerReflection")


class DrainGate(WrappingInterceptor):
    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Condition()
        self._in_flight = 0
        self._closed = False

    @property
    def in_flight(self) -> int:
        return self._in_flight

    def close(self) -> None:
        """From now on, new calls get UNAVAILABLE."""
        with self._lock:
            self._closed = True

    def wait_idle(self, timeout: float) -> bool:
        """Waits until no call is in flight; False if `timeout` passed first."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while self._in_flight:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._lock.wait(remaining)
        return True

    def wrap(self, behavior: Behavior, handler: Handler, method: str) -> Behavior:
        service, _ = split_method(method)
        return behavior if service in _ALWAYS_OPEN else self._track(behavior, handler.response_streaming)

    def _enter(self) -> None:
        with self._lock:
            if self._closed:
                raise Unavailable("the server is shutting down; retry on another replica",
                                  retry_after_seconds=1.0, reason="SHUTTING_DOWN")
            self._in_flight += 1

    def _leave(self) -> None:
        with self._lock:
            self._in_flight -= 1
            if not self._in_flight:
                self._lock.notify_all()

    def _track(self, behavior: Behavior, streaming: bool) -> Behavior:
        if streaming:
            def stream(request: Any, context: grpc.ServicerContext) -> Any:
                self._enter()
                try:
                    yield from behavior(request, context)
                finally:
                    self._leave()

            return stream

        def unary(request: Any, context: grpc.ServicerContext) -> Any:
            self._enter()
            try:
                return behavior(request, context)
            finally:
                self._leave()

        return unary
