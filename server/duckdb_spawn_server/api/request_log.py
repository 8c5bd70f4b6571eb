"""Request ids and the access log: one JSON line per RPC.

The request id comes from the `x-request-id` metadata when it is a short
printable token, otherwise a new one is made; it is returned to the client
in the trailing metadata and attached to every log line written during the
call. The access log line names the method, the final status code, the
duration and the peer: never request or response contents, and never
metadata other than the request id, so attribute values and credentials
cannot reach the log. Health checks and reflection are logged at DEBUG so
probes do not flood the log.

As in api/rpc_metrics.py, the wrapped handler is built once per method and
all per-call work (the id, the clock, the log line) happens in the wrapper.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from typing import Any

import grpc

from ..observability.request_context import (
    REQUEST_ID_HEADER,
    accept_request_id,
    new_request_id,
    reset_request_id,
    set_request_id,
)
from .handlers import Behavior, Handler, WrappingInterceptor, split_method
from .outcome import final_code

log = logging.getLogger("duckdb_spawn_server.rpc")

_QUIET_SERVICES = ("grpc.health.v1.Health", "grpc.reflection.v1alpha.ServerReflection",
                   "grpc.reflection.v1.ServerReflection")
# Codes that mean the server, not the caller, has a problem.
_SERVER_FAULTS = (grpc.StatusCode.UNKNOWN, grpc.StatusCode.INTERNAL, grpc.StatusCode.DATA_LOSS)


class RequestLogInterceptor(WrappingInterceptor):
    def wrap(self, behavior: Behavior, handler: Handler, method: str) -> Behavior:
        call = _Method(method, quiet=split_method(method)[0] in _QUIET_SERVICES)
        return call.stream(behavior) if handler.response_streaming else call.unary(behavior)


class _Method:
    def __init__(self, method: str, quiet: bool) -> None:
        self.method = method
        self.quiet = quiet
        self.success_level = logging.DEBUG if quiet else logging.INFO

    @staticmethod
    def _begin(context: grpc.ServicerContext) -> tuple[str, bool]:
        client_id = next((value for key, value in context.invocation_metadata() or ()
                          if key == REQUEST_ID_HEADER and isinstance(value, str)), None)
        accepted = accept_request_id(client_id)
        request_id = accepted or new_request_id()
        context.set_trailing_metadata(((REQUEST_ID_HEADER, request_id),))  # nothing set them before us
        return request_id, client_id is not None and accepted is None

    def _end(self, context: grpc.ServicerContext, request_id: str, replaced: bool, error: BaseException | None,
             started: float, streaming: bool) -> None:
        if error is not None:
            _add_trailer(context, request_id)  # an abort replaces the trailers: put the id back
        elif not log.isEnabledFor(self.success_level) and context.code() in (None, grpc.StatusCode.OK):
            return  # the common case at WARNING: a success, so nothing to log
        code = final_code(context, error, streaming=streaming)
        level = logging.WARNING if code in _SERVER_FAULTS else logging.DEBUG if self.quiet else logging.INFO
        if not log.isEnabledFor(level):
            return
        fields: dict[str, Any] = {
            "request_id": request_id,
            "rpc_method": self.method,
            "grpc_code": code.name,
            "duration_ms": round((time.perf_counter() - started) * 1000, 3),
            "peer": context.peer(),
        }
        if replaced:
            fields["client_request_id_rejected"] = True
        log.log(level, "rpc finished", extra=fields)

    def unary(self, behavior: Behavior) -> Behavior:
        def logged(request: Any, context: grpc.ServicerContext) -> Any:
            request_id, replaced = self._begin(context)
            token = set_request_id(request_id)
            started = time.perf_counter()
            error: BaseException | None = None
            try:
                return behavior(request, context)
            except BaseException as raised:
                error = raised
                raise
            finally:
                self._end(context, request_id, replaced, error, started, streaming=False)
                reset_request_id(token)

        return logged

    def stream(self, behavior: Behavior) -> Behavior:
        def logged(request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
            request_id, replaced = self._begin(context)
            started = time.perf_counter()
            error: BaseException | None = None
            token = set_request_id(request_id)
            try:
                yield from behavior(request, context)
            except BaseException as raised:
                error = raised
                raise
            finally:
                self._end(context, request_id, replaced, error, started, streaming=True)
                reset_request_id(token)

        return logged


def _add_trailer(context: grpc.ServicerContext, request_id: str) -> None:
    trailers = tuple(context.trailing_metadata() or ())
    if any(key == REQUEST_ID_HEADER for key, _ in trailers):
        return
    context.set_trailing_metadata((*trailers, (REQUEST_ID_HEADER, request_id)))
