"""Wrapping gRPC method handlers, for interceptors that act around a call.

grpc's server interceptors see a `RpcMethodHandler` (a namedtuple); these
helpers replace its behaviour with a wrapped one, for all four call kinds,
so each interceptor only writes the wrapping itself.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import grpc

Behavior = Callable[[Any, grpc.ServicerContext], Any]
# (behavior, returns_stream) -> wrapped behavior
Wrapper = Callable[[Behavior, bool], Behavior]
Handler = grpc.RpcMethodHandler


def wrap_handler(handler: grpc.RpcMethodHandler | None, wrapper: Wrapper) -> grpc.RpcMethodHandler | None:
    if handler is None:
        return None
    if handler.unary_unary:
        return handler._replace(unary_unary=wrapper(handler.unary_unary, False))
    if handler.unary_stream:
        return handler._replace(unary_stream=wrapper(handler.unary_stream, True))
    if handler.stream_unary:
        return handler._replace(stream_unary=wrapper(handler.stream_unary, False))
    if handler.stream_stream:
        return handler._replace(stream_stream=wrapper(handler.stream_stream, True))
    return handler


class WrappingInterceptor(grpc.ServerInterceptor):
    """Base for interceptors that wrap each method's behaviour, computed once per method.

    grpc runs `intercept_service` on its single dispatch thread for every
    call, so per-call work there delays every other call. Subclasses only
    say how to wrap a behaviour (`wrap`); the wrapped handler is cached per
    method, and all per-call work happens inside the wrapper, on the
    worker thread that runs the call. `wrap` sees the method's handler, so it
    can read `request_streaming` / `response_streaming`.
    """

    def __init__(self) -> None:
        self._cache: dict[str, grpc.RpcMethodHandler | None] = {}

    def wrap(self, behavior: Behavior, handler: Handler, method: str) -> Behavior:
        raise NotImplementedError

    def intercept_service(self, continuation: Callable[..., Any],
                          handler_call_details: grpc.HandlerCallDetails) -> Any:
        method = handler_call_details.method
        try:
            return self._cache[method]
        except KeyError:
            pass
        handler = continuation(handler_call_details)
        wrapped = wrap_handler(handler, lambda behavior, _: self.wrap(behavior, handler, method))
        if wrapped is not None:  # unknown methods stay uncached: the set is unbounded
            self._cache[method] = wrapped
        return wrapped


def split_method(full_method: str) -> tuple[str, str]:
    """'/pkg.Service/Method' -> ('pkg.Service', 'Method')."""
    _, service, method = full_method.split("/", 2) if full_method.count("/") >= 2 else ("", "", full_method)
    return service, method

