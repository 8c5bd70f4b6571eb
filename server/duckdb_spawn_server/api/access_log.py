"""Correlation ids and the access log: one JSON line per RPC.

The correlation id comes from the `x-request-id` metadata when it is a short
printable token, otherwise a new one is made; it is returned in the trailing
metadata and attached to every log line written during the call (it is not
the AIP-155 `request_id` field, which makes a write idempotent). The access
log line names the method, the final status code, the duration and the
peer: never request or response contents, and never metadata other than the
correlation id, so attribute values and credentials cannot reach the log.
Health checks and reflection are logged at DEBUG so probes do not flood it.

Every call writes this line, so it is formatted here, by hand, into the
same JSON shape the log formatter gives every other line (with the second
part of the timestamp made once per second): a logging record, the
formatter and json.dumps cost a tenth of a whole GetProject. The lines of
the calls that end in one turn of the event loop are written together, one
write and one flush for all of them.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import Any

import grpc

from ..observability.correlation import CORRELATION_HEADER, accept_correlation_id, new_correlation_id
from ..observability.logging_setup import JsonLinesHandler, json_lines

log = logging.getLogger("duckdb_spawn_server.rpc")

_REJECTED = ', "client_request_id_rejected": true'
# Codes that mean the server, not the caller, has a problem.
_SERVER_FAULTS = (grpc.StatusCode.UNKNOWN, grpc.StatusCode.INTERNAL, grpc.StatusCode.DATA_LOSS)


def correlation_id(metadata: tuple[tuple[str, Any], ...]) -> str:
    """The client's `x-request-id` when acceptable, else a new id."""
    for key, value in metadata:
        if key == CORRELATION_HEADER and isinstance(value, str):
            return accept_correlation_id(value) or new_correlation_id()
    return new_correlation_id()


def client_sent_unusable_id(metadata: tuple[tuple[str, Any], ...], used: str) -> bool:
    return any(key == CORRELATION_HEADER and value != used for key, value in metadata)


class AccessLog:
    HEADER = CORRELATION_HEADER

    def __init__(self) -> None:
        self._second = -1
        self._second_text = ""
        self._pending: list[str] = []  # lines of this loop iteration, written together

    def finished(self, path: str, quiet: bool, peer: str, metadata: tuple[tuple[str, Any], ...],
                 correlation: str, code: grpc.StatusCode, started: float) -> None:
        if code in _SERVER_FAULTS:
            level = logging.WARNING
        elif quiet:
            level = logging.DEBUG
        else:
            level = logging.INFO
        if not log.isEnabledFor(level):
            return  # the common case at WARNING: nothing to build
        duration_ms = round((time.perf_counter() - started) * 1000, 3)
        rejected = client_sent_unusable_id(metadata, correlation)
        sink = json_lines()
        if sink is None:  # logging as configured by someone else (tests): the usual way
            fields: dict[str, Any] = {"request_id": correlation, "rpc_method": path, "grpc_code": code.name,
                                      "duration_ms": duration_ms, "peer": peer}
            if rejected:
                fields["client_request_id_rejected"] = True
            log.log(level, "rpc finished", extra=fields)
            return
        # The correlation id, method and code are from known-safe alphabets; the peer is escaped.
        flag = _REJECTED if rejected else ""
        if not self._pending:  # one write for every call that ends in this turn of the loop
            asyncio.get_running_loop().call_soon(self._flush, sink)
        self._pending.append(
            f'{{"timestamp": "{self._timestamp()}", "level": "{logging.getLevelName(level)}", '
            f'"logger": "{log.name}", "message": "rpc finished", "request_id": "{correlation}", '
            f'"rpc_method": "{path}", "grpc_code": "{code.name}", "duration_ms": {duration_ms}, '
            f'"peer": {json.dumps(peer)}{flag}}}\n')

    def _flush(self, sink: JsonLinesHandler) -> None:
        lines, self._pending = self._pending, []
        sink.write_line("".join(lines))

    def _timestamp(self) -> str:
        now = time.time()
        second = int(now)
        if second != self._second:
            self._second = second
            self._second_text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
        return f"{self._second_text}.{int((now - second) * 1000):03d}Z"
