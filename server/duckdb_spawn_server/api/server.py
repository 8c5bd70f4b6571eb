"""The gRPC servers: options, the call pipeline around every method, reflection, health.

This module alone knows how the servers are assembled; servicers and the
domain never see these details. Both servers (the main one and the
plaintext health-only one on HEALTH_PORT) are grpc.aio servers on one event
loop, which runs in a thread of its own (`GrpcRuntime`), so the rest of the
process (start-up, signals, the writer) stays plain threads.

Every method of every service, health and reflection included, is
registered through `CallPipeline.handler`: there are no grpc interceptors.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any, TypeVar

import grpc
from duckdb_spawn.v1 import admin_service_pb2, monitoring_service_pb2, project_service_pb2
from google.protobuf import message_factory
from google.protobuf.descriptor import ServiceDescriptor
from grpc_health.v1 import health_pb2
from grpc_reflection.v1alpha import reflection, reflection_pb2

from ..security.tls import TlsMaterial
from .completions import Completions
from .pipeline import CallPipeline
from .wire import serialize

T = TypeVar("T")

PROJECT_SERVICE_DESCRIPTOR = project_service_pb2.DESCRIPTOR.services_by_name["ProjectService"]
ADMIN_SERVICE_DESCRIPTOR = admin_service_pb2.DESCRIPTOR.services_by_name["AdminService"]
MONITORING_SERVICE_DESCRIPTOR = monitoring_service_pb2.DESCRIPTOR.services_by_name["MonitoringService"]
HEALTH_SERVICE_DESCRIPTOR = health_pb2.DESCRIPTOR.services_by_name["Health"]
REFLECTION_SERVICE_DESCRIPTOR = reflection_pb2.DESCRIPTOR.services_by_name["ServerReflection"]

PROJECT_SERVICE = PROJECT_SERVICE_DESCRIPTOR.full_name
ADMIN_SERVICE = ADMIN_SERVICE_DESCRIPTOR.full_name
MONITORING_SERVICE = MONITORING_SERVICE_DESCRIPTOR.full_name
HEALTH_SERVICE = HEALTH_SERVICE_DESCRIPTOR.full_name
OWN_SERVICES = (PROJECT_SERVICE, ADMIN_SERVICE, MONITORING_SERVICE)
# Every service the main server registers (method names and streaming kinds), so the gRPC
# metrics can be pre-initialised for every method.
SERVICE_DESCRIPTORS = (PROJECT_SERVICE_DESCRIPTOR, ADMIN_SERVICE_DESCRIPTOR, MONITORING_SERVICE_DESCRIPTOR,
                       HEALTH_SERVICE_DESCRIPTOR, REFLECTION_SERVICE_DESCRIPTOR)


@dataclass(frozen=True)
class ServerOptions:
    host: str
    port: int
    # Enforced with rich errors by the pipeline (api/admission.py); grpc's own cap is a backstop above it.
    max_concurrent_rpcs: int
    max_message_bytes: int = 16 * 1024 * 1024
    tls: TlsMaterial | None = None  # None: plaintext
    reflection: bool = True


@dataclass(frozen=True)
class Servicers:
    projects: Any
    admin: Any
    monitoring: Any
    health: Any


def build_server(options: ServerOptions, servicers: Servicers, pipeline: CallPipeline) -> tuple[grpc.aio.Server, int]:
    """Creates and binds (but does not start) the main server; call on the runtime's loop."""
    server = grpc.aio.server(
        maximum_concurrent_rpcs=None,
        options=[
            # Without this, a second server can silently share the port (Linux SO_REUSEPORT).
            ("grpc.so_reuseport", 0),
            ("grpc.max_receive_message_length", options.max_message_bytes),
            ("grpc.max_send_message_length", options.max_message_bytes),
        ],
    )
    register(server, pipeline, PROJECT_SERVICE_DESCRIPTOR, servicers.projects, large_responses=True)
    register(server, pipeline, ADMIN_SERVICE_DESCRIPTOR, servicers.admin, large_responses=True)
    register(server, pipeline, MONITORING_SERVICE_DESCRIPTOR, servicers.monitoring, large_responses=True)
    register(server, pipeline, HEALTH_SERVICE_DESCRIPTOR, servicers.health)
    if options.reflection:
        names = (*OWN_SERVICES, HEALTH_SERVICE, reflection.SERVICE_NAME)
        register(server, pipeline, REFLECTION_SERVICE_DESCRIPTOR, reflection.aio.ReflectionServicer(names))
    credentials = server_credentials(options.tls) if options.tls is not None else None
    return server, _bind(server, options.host, options.port, credentials, "gRPC port")


def build_health_server(host: str, port: int, health: Any, pipeline: CallPipeline) -> tuple[grpc.aio.Server, int]:
    """A plaintext server with grpc.health.v1 alone, for probes that cannot speak TLS (HEALTH_PORT).

    It shares the main server's Health servicer, so both ports give the same
    answers; nothing else is registered (health needs no credentials anyway),
    so any other method is UNIMPLEMENTED here.
    """
    server = grpc.aio.server(maximum_concurrent_rpcs=64, options=[("grpc.so_reuseport", 0)])
    register(server, pipeline, HEALTH_SERVICE_DESCRIPTOR, health)
    return server, _bind(server, host, port, None, "health port")


def register(server: grpc.aio.Server, pipeline: CallPipeline, service: ServiceDescriptor, servicer: Any, *,
             large_responses: bool = False) -> None:
    """Every method of `service`, served by `servicer`'s method of the same name through the pipeline."""
    handlers = {}
    for method in service.methods:
        request_class = message_factory.GetMessageClass(method.input_type)
        handlers[method.name] = pipeline.handler(method, getattr(servicer, method.name), request_class.FromString,
                                                 serialize, large_responses=large_responses)
    # Registered, not generic: grpc.aio then waits for the next call of each method separately, so a
    # burst of one method cannot hold up the acceptance of another (health checks above all).
    server.add_registered_method_handlers(service.full_name, handlers)


def server_credentials(tls: TlsMaterial) -> grpc.ServerCredentials:
    """TLS with the server's key pair; with a client CA, client certificates are required and verified."""
    return grpc.ssl_server_credentials([(tls.private_key, tls.certificate_chain)],
                                       root_certificates=tls.client_ca, require_client_auth=tls.mutual)


def _bind(server: grpc.aio.Server, host: str, port: int, credentials: grpc.ServerCredentials | None,
          what: str) -> int:
    """Binds and returns the port; OSError (which main reports in one line) when it cannot."""
    address = f"{_bracket(host)}:{port}"
    try:
        bound = (server.add_insecure_port(address) if credentials is None
                 else server.add_secure_port(address, credentials))
    except RuntimeError:  # recent grpcio raises instead of returning 0
        bound = 0
    if bound == 0:
        raise OSError(f"cannot bind {what} {host}:{port}")
    return bound


def _bracket(host: str) -> str:
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


class GrpcRuntime:
    """The event loop the gRPC servers run on, in a thread of its own."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name="grpc-loop", daemon=True)
        self._thread.start()
        assert self._thread.ident is not None
        self.completions = Completions(self.loop, self._thread.ident)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    def call(self, coroutine: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        """Runs `coroutine` on the loop and waits for its result (from any other thread)."""
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def close(self) -> None:
        if self.loop.is_closed():
            return
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
        if not self._thread.is_alive():
            self.loop.close()
