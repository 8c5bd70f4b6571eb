"""Correlation ids and the access log: one JSON line per RPC.

The correlation id comes from the `x-request-id` metadata when it is a short
printable token, otherwise a new one is made; it is returned in the trailing
metadata and attached to every log line written during the call (it is not
the AIP-155 `request_id` field, which makes a write idempotent). The access
log line names the method, the final status code, the duration and the
peer: never request or response contents, and never metadata other than the
correlation id, so attribute values and credentials cannot reach the log.
Health checks and reflection are logged at DEBUG so probes do not flood it.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

import grpc

from ..observability.request_context import REQUEST_ID_HEADER, accept_request_id, new_request_id

if TYPE_CHECKING:
    from .pipeline import MethodPolicy

log = logging.getLogger("duckdb_spawn_server.rpc")

# Codes that mean the server, not the caller, has a problem.
_SERVER_FAULTS = (grpc.StatusCode.UNKNOWN, grpc.StatusCode.INTERNAL, grpc.StatusCode.DATA_LOSS)


def correlation_id(context: grpc.aio.ServicerContext) -> str:
    """The client's `x-request-id` when acceptable, else a new id."""
    for key, value in context.invocation_metadata() or ():
        if key == REQUEST_ID_HEADER and isinstance(value, str):
            return accept_request_id(value) or new_request_id()
    return new_request_id()


def client_sent_unusable_id(context: grpc.aio.ServicerContext, used: str) -> bool:
    return any(key == REQUEST_ID_HEADER and value != used for key, value in context.invocation_metadata() or ())


class AccessLog:
    HEADER = REQUEST_ID_HEADER

    def finished(self, policy: MethodPolicy, context: grpc.aio.ServicerContext, correlation: str,
                 code: grpc.StatusCode, started: float) -> None:
        if code in _SERVER_FAULTS:
            level = logging.WARNING
        elif policy.quiet:
            level = logging.DEBUG
        else:
            level = logging.INFO
        if not log.isEnabledFor(level):
            return  # the common case at WARNING: nothing to build
        fields: dict[str, Any] = {
            "request_id": correlation,
            "rpc_method": policy.path,
            "grpc_code": code.name,
            "duration_ms": round((time.perf_counter() - started) * 1000, 3),
            "peer": context.peer(),
        }
        if client_sent_unusable_id(context, correlation):
            fields["client_request_id_rejected"] = True
        log.log(level, "rpc finished", extra=fields)
