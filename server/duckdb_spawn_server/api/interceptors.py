"""Error mapping around every RPC.

Servicers never build statuses: they raise domain errors, and
`ErrorInterceptor` turns them into statuses with rich details. Anything else
is a bug: it is logged with its stack trace and answered with a generic
INTERNAL that reveals nothing.
"""

from __future__ import annotations

import logging
from typing import Any

import grpc

from ..domain.errors import DomainError
from ..observability.logging_setup import stack_without_message
from .errors import internal_status, status_for
from .handlers import Behavior, Handler, WrappingInterceptor

log = logging.getLogger(__name__)


class ErrorInterceptor(WrappingInterceptor):
    def wrap(self, behavior: Behavior, handler: Handler, method: str) -> Behavior:
        return _map_errors(behavior, handler.response_streaming, method)


def _abort(context: grpc.ServicerContext, error: BaseException, method: str) -> None:
    if isinstance(error, DomainError):
        context.abort_with_status(status_for(error))
    # The message of an unexpected exception may quote request values: only its type and
    # where it was raised go out at ERROR; the full exception is logged at DEBUG.
    log.error("unhandled error in %s: %s", method, type(error).__name__,
              extra={"stack": stack_without_message(error)})
    log.debug("unhandled error in %s", method, exc_info=error)
    context.abort_with_status(internal_status())


def _map_errors(behavior: Behavior, streaming: bool, method: str) -> Behavior:
    if streaming:
        def stream(request: Any, context: grpc.ServicerContext) -> Any:
            try:
                yield from behavior(request, context)
            except Exception as error:
                if _already_aborted(context):
                    raise
                _abort(context, error, method)

        return stream

    def unary(request: Any, context: grpc.ServicerContext) -> Any:
        try:
            return behavior(request, context)
        except Exception as error:
            if _already_aborted(context):
                raise
            _abort(context, error, method)

    return unary


def _already_aborted(context: grpc.ServicerContext) -> bool:
    """True when the handler itself called context.abort (grpc raises a bare Exception)."""
    code = context.code() if hasattr(context, "code") else None
    return code is not None and code != grpc.StatusCode.OK
