"""Counts every RPC into the go-grpc-prometheus metrics (observability/grpc_metrics.py).

Started when the handler starts; a message received per request (each item
of a request stream); a message sent per response (each item of a response
stream, and a unary response only on success, as Go counts them); handled
with the final code and the handling time when the call ends.

grpc calls `intercept_service` on its one dispatch thread for every call,
so the wrapped handler is built once per method and cached; all per-call
work happens inside the wrapper, on the worker thread. Interceptors that
must act per call on arrival (a concurrency cap) go before this one.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import grpc

from ..observability.grpc_metrics import GrpcServerMetrics, MethodMetrics, grpc_type
from .handlers import Behavior, Handler, WrappingInterceptor, split_method
from .outcome import final_code


class RpcMetricsInterceptor(WrappingInterceptor):
    def __init__(self, metrics: GrpcServerMetrics) -> None:
        super().__init__()
        self._metrics = metrics

    def wrap(self, behavior: Behavior, handler: Handler, method: str) -> Behavior:
        service, name = split_method(method)
        kind = grpc_type(handler.request_streaming, handler.response_streaming)
        metrics = self._metrics.method(kind, service, name)
        observe = _stream if handler.response_streaming else _unary
        return observe(behavior, metrics, request_stream=handler.request_streaming)


def _counted(requests: Iterator[Any], metrics: MethodMetrics) -> Iterator[Any]:
    for request in requests:
        metrics.received.inc()
        yield request


def _begin(request: Any, metrics: MethodMetrics, request_stream: bool) -> Any:
    """Counts the call as started and its request(s) as received; returns what the handler reads."""
    metrics.start()
    if request_stream:
        return _counted(request, metrics)
    metrics.received.inc()
    return request


def _unary(behavior: Behavior, metrics: MethodMetrics, *, request_stream: bool) -> Behavior:
    def observed(request: Any, context: grpc.ServicerContext) -> Any:
        request = _begin(request, metrics, request_stream)
        started = time.perf_counter()
        error: BaseException | None = None
        try:
            response = behavior(request, context)
        except BaseException as raised:
            error = raised
            raise
        finally:
            code = final_code(context, error, streaming=False)
            if code is grpc.StatusCode.OK:
                metrics.sent.inc()
            metrics.finish(code, time.perf_counter() - started)
        return response

    return observed


def _stream(behavior: Behavior, metrics: MethodMetrics, *, request_stream: bool) -> Behavior:
    def observed(request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
        request = _begin(request, metrics, request_stream)
        started = time.perf_counter()
        error: BaseException | None = None
        try:
            for response in behavior(request, context):
                metrics.sent.inc()
                yield response
        except BaseException as raised:
            error = raised
            raise
        finally:
            metrics.finish(final_code(context, error, streaming=True), time.perf_counter() - started)

    return observed
