"""The concurrent RPC cap, answered RESOURCE_EXHAUSTED with details that name the limit.

grpc's own `maximum_concurrent_rpcs` answers with a bare status (no
ErrorInfo, no hint which setting), so the cap is enforced here and grpc's
is only a backstop set above it (api/server.py). A slot is taken when grpc
hands the call to the interceptors (before it waits for a worker thread,
so queued calls count) and given back when the handler finishes. If grpc
never runs the handler (the client cancelled while queued), the slot is
given back when the handler is dropped. Health checks are exempt: probes
must see the truth under load.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable
from typing import Any

import grpc

from ..domain.errors import ResourceExhausted
from .access_policy import HEALTH_SERVICE
from .errors import status_for
from .handlers import Behavior, split_method, wrap_handler

LIMIT_VARIABLE = "GRPC_MAX_CONCURRENT_RPCS"


class _Slot:
    def __init__(self, limit: ConcurrencyLimit) -> None:
        self._limit: ConcurrencyLimit | None = limit

    def release(self) -> None:
        limit, self._limit = self._limit, None  # at most once, whichever path comes first
        if limit is not None:
            limit._release()


class ConcurrencyLimit(grpc.ServerInterceptor):
    def __init__(self, max_concurrent: int) -> None:
        self.max_concurrent = max_concurrent
        self._lock = threading.Lock()
        self._active = 0

    @property
    def active(self) -> int:
        return self._active

    def intercept_service(self, continuation: Callable[..., Any],
                          handler_call_details: grpc.HandlerCallDetails) -> Any:
        if split_method(handler_call_details.method)[0] == HEALTH_SERVICE:
            return continuation(handler_call_details)
        with self._lock:
            admitted = self._active < self.max_concurrent
            if admitted:
                self._active += 1
        if not admitted:
            return wrap_handler(continuation(handler_call_details), _refuse(self.max_concurrent))
        slot = _Slot(self)
        try:
            handler = continuation(handler_call_details)
        except BaseException:
            slot.release()
            raise
        if handler is None:
            slot.release()
            return None
        return wrap_handler(handler, lambda behavior, streaming: _holding(slot, behavior, streaming))

    def _release(self) -> None:
        with self._lock:
            self._active -= 1


def _holding(slot: _Slot, behavior: Behavior, streaming: bool) -> Behavior:
    """Releases the slot when the call ends, or when grpc drops the handler without running it."""
    if streaming:
        def stream(request: Any, context: grpc.ServicerContext) -> Any:
            try:
                yield from behavior(request, context)
            finally:
                slot.release()

        held: Behavior = stream
    else:
        def unary(request: Any, context: grpc.ServicerContext) -> Any:
            try:
                return behavior(request, context)
            finally:
                slot.release()

        held = unary
    # grpc keeps the behaviour referenced while the call runs; once it is gone the call is over.
    weakref.finalize(held, slot.release)
    return held


def _refuse(limit: int) -> Callable[[Behavior, bool], Behavior]:
    def error() -> ResourceExhausted:
        return ResourceExhausted(f"the server is handling its maximum of {limit} concurrent calls "
                                 f"({LIMIT_VARIABLE}); retry shortly", limit=LIMIT_VARIABLE,
                                 reason="TOO_MANY_CONCURRENT_RPCS", retry_after_seconds=0.1)

    def wrapper(behavior: Behavior, streaming: bool) -> Behavior:
        if streaming:
            def stream(request: Any, context: grpc.ServicerContext) -> Any:
                context.abort_with_status(status_for(error()))
                yield  # pragma: no cover - makes this a generator

            return stream

        def unary(request: Any, context: grpc.ServicerContext) -> Any:
            # This interceptor runs outside the error-mapping one (it must count every call
            # on arrival), so it answers with the rich status itself.
            context.abort_with_status(status_for(error()))

        return unary

    return wrapper
