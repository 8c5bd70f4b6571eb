"""Requests that are not valid protobuf are the caller's fault: INVALID_ARGUMENT, not INTERNAL.

grpc deserializes a request before any handler runs; when protobuf refuses
the bytes (invalid UTF-8 in a string, nesting deeper than its decoder
allows, a truncated body) grpc answers INTERNAL "Exception deserializing
request!" and logs a traceback at ERROR for every such call, so junk traffic
floods the log. Here every method's deserializer is wrapped: a refused body
becomes an `UndecodableRequest` value, which the call pipeline turns into
INVALID_ARGUMENT with ErrorInfo, after authentication (so strangers learn
nothing more than with a valid request). One WARNING line is logged per
interval, with the number of refusals since the last one, never a traceback.
Every service is covered, streams (each message) and health/reflection too.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from google.protobuf.message import DecodeError

from ..domain.errors import InvalidArgument
from .access_policy import split_method

log = logging.getLogger(__name__)

MALFORMED_REQUEST = "MALFORMED_REQUEST"
LOG_INTERVAL_SECONDS = 10.0


@dataclass(frozen=True)
class UndecodableRequest:
    """What the wrapped deserializer returns for bytes protobuf refused."""

    method: str
    problem: str  # protobuf's own words, e.g. "String field had bad UTF-8"; no request content


class RefusalLog:
    """At most one WARNING per interval, carrying how many refusals it stands for."""

    def __init__(self, interval: float = LOG_INTERVAL_SECONDS) -> None:
        self._interval = interval
        self._lock = threading.Lock()
        self._next = 0.0
        self._pending = 0

    def record(self, refusal: UndecodableRequest) -> None:
        now = time.monotonic()
        with self._lock:
            self._pending += 1
            if now < self._next:
                return
            count, self._pending = self._pending, 0
            self._next = now + self._interval
        log.warning("undecodable request refused", extra={
            "rpc_method": refusal.method, "problem": refusal.problem, "refused": count,
            "interval_seconds": self._interval})


def tolerant(deserializer: Callable[[bytes], Any] | None, method: str,
             refusals: RefusalLog) -> Callable[[bytes], Any] | None:
    if deserializer is None:
        return None

    def deserialize(data: bytes) -> Any:
        try:
            return deserializer(data)
        except (DecodeError, ValueError, RecursionError) as error:
            refusal = UndecodableRequest(method, _problem(error))
            refusals.record(refusal)
            return refusal

    return deserialize


def _problem(error: BaseException) -> str:
    # protobuf's message names the type and the rule ("... 'X': String field had bad UTF-8"), never the bytes.
    text = str(error).splitlines()[0] if str(error) else type(error).__name__
    return text.rpartition(": ")[2][:120] or type(error).__name__


def malformed(refusal: UndecodableRequest) -> InvalidArgument:
    service, name = split_method(refusal.method)
    return InvalidArgument(f"the request body is not a valid {name} request: {refusal.problem}",
                           reason=MALFORMED_REQUEST, metadata={"method": refusal.method, "problem": refusal.problem,
                                                               "service": service})
