"""The gRPC server: options, interceptors, services, reflection, health.

This module alone knows how the server is assembled; servicers and the
domain never see these details.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent import futures
from dataclasses import dataclass

import grpc
from duckdb_spawn.v1 import (
    admin_service_pb2,
    admin_service_pb2_grpc,
    monitoring_service_pb2,
    monitoring_service_pb2_grpc,
    project_service_pb2,
    project_service_pb2_grpc,
)
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection, reflection_pb2

from ..security.tls import TlsMaterial

PROJECT_SERVICE = project_service_pb2.DESCRIPTOR.services_by_name["ProjectService"].full_name
ADMIN_SERVICE = admin_service_pb2.DESCRIPTOR.services_by_name["AdminService"].full_name
MONITORING_SERVICE = monitoring_service_pb2.DESCRIPTOR.services_by_name["MonitoringService"].full_name
HEALTH_SERVICE = health_pb2.DESCRIPTOR.services_by_name["Health"].full_name
OWN_SERVICES = (PROJECT_SERVICE, ADMIN_SERVICE, MONITORING_SERVICE)
# Every service build_server registers, as descriptors (method names and streaming kinds),
# so the gRPC metrics can be pre-initialised for every method.
SERVICE_DESCRIPTORS = (
    project_service_pb2.DESCRIPTOR.services_by_name["ProjectService"],
    admin_service_pb2.DESCRIPTOR.services_by_name["AdminService"],
    monitoring_service_pb2.DESCRIPTOR.services_by_name["MonitoringService"],
    health_pb2.DESCRIPTOR.services_by_name["Health"],
    reflection_pb2.DESCRIPTOR.services_by_name["ServerReflection"],
)


@dataclass(frozen=True)
class ServerOptions:
    host: str
    port: int
    max_workers: int
    # Enforced with rich errors by api/concurrency.py; grpc's own cap is a backstop above it.
    max_concurrent_rpcs: int
    max_message_bytes: int = 16 * 1024 * 1024
    tls: TlsMaterial | None = None  # None: plaintext
    reflection: bool = True


@dataclass(frozen=True)
class Servicers:
    projects: project_service_pb2_grpc.ProjectServiceServicer
    admin: admin_service_pb2_grpc.AdminServiceServicer
    monitoring: monitoring_service_pb2_grpc.MonitoringServiceServicer
    health: health_pb2_grpc.HealthServicer


def build_server(options: ServerOptions, servicers: Servicers,
                 interceptors: Sequence[grpc.ServerInterceptor]) -> tuple[grpc.Server, int]:
    """Creates and binds (but does not start) the server; returns it and the bound port."""
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=options.max_workers, thread_name_prefix="grpc-worker"),
        interceptors=list(interceptors),
        maximum_concurrent_rpcs=2 * options.max_concurrent_rpcs + options.max_workers,
        options=[
            # Without this, a second server can silently share the port (Linux SO_REUSEPORT).
            ("grpc.so_reuseport", 0),
            ("grpc.max_receive_message_length", options.max_message_bytes),
            ("grpc.max_send_message_length", options.max_message_bytes),
        ],
    )
    project_service_pb2_grpc.add_ProjectServiceServicer_to_server(servicers.projects, server)
    admin_service_pb2_grpc.add_AdminServiceServicer_to_server(servicers.admin, server)
    monitoring_service_pb2_grpc.add_MonitoringServiceServicer_to_server(servicers.monitoring, server)
    health_pb2_grpc.add_HealthServicer_to_server(servicers.health, server)
    if options.reflection:
        reflection.enable_server_reflection((*OWN_SERVICES, HEALTH_SERVICE, reflection.SERVICE_NAME), server)
    credentials = server_credentials(options.tls) if options.tls is not None else None
    return server, _bind(server, options.host, options.port, credentials, "gRPC port")


def build_health_server(host: str, port: int, health: health_pb2_grpc.HealthServicer) -> tuple[grpc.Server, int]:
    """A plaintext server with grpc.health.v1 alone, for probes that cannot speak TLS (HEALTH_PORT).

    It shares the main server's HealthServicer, so both ports give the same answers; nothing
    else is registered (no reflection, no interceptors: health needs no credentials anyway),
    so any other method is UNIMPLEMENTED here.
    """
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4, thread_name_prefix="grpc-health"),
                         maximum_concurrent_rpcs=64, options=[("grpc.so_reuseport", 0)])
    health_pb2_grpc.add_HealthServicer_to_server(health, server)
    return server, _bind(server, host, port, None, "health port")


def server_credentials(tls: TlsMaterial) -> grpc.ServerCredentials:
    """TLS with the server's key pair; with a client CA, client certificates are required and verified."""
    return grpc.ssl_server_credentials([(tls.private_key, tls.certificate_chain)],
                                       root_certificates=tls.client_ca, require_client_auth=tls.mutual)


def _bind(server: grpc.Server, host: str, port: int, credentials: grpc.ServerCredentials | None,
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
