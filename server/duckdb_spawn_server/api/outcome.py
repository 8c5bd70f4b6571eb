"""The status code a call really ended with, as seen from a server interceptor.

A handler (or an inner interceptor such as `ErrorInterceptor`) that aborts
sets the code on the context and raises; a handler that returns normally
ends with OK unless it set a code; a response stream that the client
abandoned (cancel, deadline) is closed under the handler. Interceptors that
report outcomes (metrics, access log) must sit outside the error mapping to
see the final code, which is why `app.py` lists them first.
"""

from __future__ import annotations

import grpc


def final_code(context: grpc.ServicerContext, error: BaseException | None, *, streaming: bool) -> grpc.StatusCode:
    code = context.code()
    if error is None:
        if code is not None and code != grpc.StatusCode.OK:
            return code
        if streaming and not context.is_active():
            return _abandoned(context)  # the stream ended because the client went away
        return grpc.StatusCode.OK
    if isinstance(error, GeneratorExit):
        return _abandoned(context)
    if code is not None and code != grpc.StatusCode.OK:
        return code
    if not context.is_active():
        return _abandoned(context)
    return grpc.StatusCode.UNKNOWN  # what grpc answers for an exception nobody mapped


def _abandoned(context: grpc.ServicerContext) -> grpc.StatusCode:
    remaining = context.time_remaining()
    if remaining is not None and remaining <= 0:
        return grpc.StatusCode.DEADLINE_EXCEEDED
    return grpc.StatusCode.CANCELLED
