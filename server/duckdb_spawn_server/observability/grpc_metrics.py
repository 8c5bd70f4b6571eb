"""The standard gRPC server metrics, named and labelled as go-grpc-prometheus names them.

Operators' existing gRPC dashboards and alerts query these exact series:

| metric | type | labels |
|---|---|---|
| `grpc_server_started_total` | counter | grpc_type, grpc_service, grpc_method |
| `grpc_server_handled_total` | counter | grpc_type, grpc_service, grpc_method, grpc_code |
| `grpc_server_msg_received_total` | counter | grpc_type, grpc_service, grpc_method |
| `grpc_server_msg_sent_total` | counter | grpc_type, grpc_service, grpc_method |
| `grpc_server_handling_seconds` | histogram | grpc_type, grpc_service, grpc_method |

`grpc_type` is `unary`, `client_stream`, `server_stream` or `bidi_stream`;
`grpc_code` is spelled as Go spells it (`OK`, `InvalidArgument`, `NotFound`,
...). Every method of every registered service is pre-initialised at zero
(for every code), so `rate()` and absent-series alerts work from the first
scrape. The interceptor that feeds these lives in `api/rpc_metrics.py`.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass

import grpc
from google.protobuf.descriptor import MethodDescriptor, ServiceDescriptor
from prometheus_client import CollectorRegistry, Counter, Histogram

# Go's `codes.Code.String()` spelling, in code order.
GO_CODE_NAMES: dict[grpc.StatusCode, str] = {
    grpc.StatusCode.OK: "OK",
    grpc.StatusCode.CANCELLED: "Canceled",
    grpc.StatusCode.UNKNOWN: "Unknown",
    grpc.StatusCode.INVALID_ARGUMENT: "InvalidArgument",
    grpc.StatusCode.DEADLINE_EXCEEDED: "DeadlineExceeded",
    grpc.StatusCode.NOT_FOUND: "NotFound",
    grpc.StatusCode.ALREADY_EXISTS: "AlreadyExists",
    grpc.StatusCode.PERMISSION_DENIED: "PermissionDenied",
    grpc.StatusCode.RESOURCE_EXHAUSTED: "ResourceExhausted",
    grpc.StatusCode.FAILED_PRECONDITION: "FailedPrecondition",
    grpc.StatusCode.ABORTED: "Aborted",
    grpc.StatusCode.OUT_OF_RANGE: "OutOfRange",
    grpc.StatusCode.UNIMPLEMENTED: "Unimplemented",
    grpc.StatusCode.INTERNAL: "Internal",
    grpc.StatusCode.UNAVAILABLE: "Unavailable",
    grpc.StatusCode.DATA_LOSS: "DataLoss",
    grpc.StatusCode.UNAUTHENTICATED: "Unauthenticated",
}

# Prometheus' Go client default buckets (what go-grpc-prometheus uses).
HANDLING_SECONDS_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

UNARY = "unary"
CLIENT_STREAM = "client_stream"
SERVER_STREAM = "server_stream"
BIDI_STREAM = "bidi_stream"


def grpc_type(client_streaming: bool, server_streaming: bool) -> str:
    if client_streaming and server_streaming:
        return BIDI_STREAM
    if client_streaming:
        return CLIENT_STREAM
    if server_streaming:
        return SERVER_STREAM
    return UNARY


def method_type(method: MethodDescriptor) -> str:
    return grpc_type(method.client_streaming, method.server_streaming)


@dataclass(frozen=True)
class RpcTotals:
    """Process-wide RPC counters since start (for MonitoringService.GetSystemMetrics)."""

    started: int
    handled: int
    failed: int
    in_flight: int


class MethodMetrics:
    """The metric children of one method, resolved once so a call only increments."""

    def __init__(self, owner: GrpcServerMetrics, kind: str, service: str, method: str) -> None:
        labels = (kind, service, method)
        self._owner = owner
        self._labels = labels
        self.started = owner.started.labels(*labels)
        self.received = owner.msg_received.labels(*labels)
        self.sent = owner.msg_sent.labels(*labels)
        self.seconds = owner.handling_seconds.labels(*labels)
        self._handled = {code: owner.handled.labels(*labels, name) for code, name in GO_CODE_NAMES.items()}

    def start(self) -> None:
        self.started.inc()
        self._owner._count_start()

    def finish(self, code: grpc.StatusCode, seconds: float) -> None:
        handled = self._handled.get(code)
        if handled is None:  # a code grpc added after this table was written
            handled = self._owner.handled.labels(*self._labels, code.name.title().replace("_", ""))
        handled.inc()
        self.seconds.observe(seconds)
        self._owner._count_finish(code is not grpc.StatusCode.OK)


class GrpcServerMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        labels = ("grpc_type", "grpc_service", "grpc_method")
        self.started = Counter("grpc_server_started", "Total number of RPCs started on the server.",
                               labels, registry=registry)
        self.handled = Counter("grpc_server_handled", "Total number of RPCs completed on the server, "
                               "regardless of success or failure.", (*labels, "grpc_code"), registry=registry)
        self.msg_received = Counter("grpc_server_msg_received", "Total number of RPC stream messages "
                                    "received on the server.", labels, registry=registry)
        self.msg_sent = Counter("grpc_server_msg_sent", "Total number of gRPC stream messages sent by the server.",
                                labels, registry=registry)
        self.handling_seconds = Histogram(
            "grpc_server_handling_seconds", "Histogram of response latency (seconds) of gRPC that had been "
            "application-level handled by the server.", labels, buckets=HANDLING_SECONDS_BUCKETS,
            registry=registry)
        self._methods: dict[tuple[str, str, str], MethodMetrics] = {}
        self._lock = threading.Lock()
        self._started = 0
        self._handled = 0
        self._failed = 0

    def preinitialize(self, services: Iterable[ServiceDescriptor]) -> None:
        """Creates every method's series at zero, as go-grpc-prometheus' InitializeMetrics does."""
        for service in services:
            for method in service.methods:
                self.method(method_type(method), service.full_name, method.name)

    def method(self, kind: str, service: str, method: str) -> MethodMetrics:
        key = (kind, service, method)
        found = self._methods.get(key)
        if found is None:
            with self._lock:
                found = self._methods.get(key)
                if found is None:
                    found = self._methods[key] = MethodMetrics(self, kind, service, method)
        return found

    def totals(self) -> RpcTotals:
        with self._lock:
            return RpcTotals(self._started, self._handled, self._failed, self._started - self._handled)

    def _count_start(self) -> None:
        with self._lock:
            self._started += 1

    def _count_finish(self, failed: bool) -> None:
        with self._lock:
            self._handled += 1
            if failed:
                self._failed += 1
