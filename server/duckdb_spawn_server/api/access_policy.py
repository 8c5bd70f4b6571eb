"""Which role each RPC needs.

`REQUIRED_ROLES` names every method of our services; `METHOD_ROLES` is
built from the service descriptors, so a method added to a .proto without a
role here fails `build_method_roles` (and the test that calls it) instead of
being silently open. At run time an unknown method needs `admin`: the
policy fails closed.

Health checks are always open (probes carry no credentials); reflection
follows GRPC_REFLECTION.
"""

from __future__ import annotations

import enum

from duckdb_spawn.v1 import admin_service_pb2, monitoring_service_pb2, project_service_pb2
from google.protobuf.descriptor import ServiceDescriptor

from ..domain.access import Role

R, W, A = Role.READER, Role.WRITER, Role.ADMIN

REQUIRED_ROLES: dict[str, dict[str, Role]] = {
    "duckdb_spawn.v1.ProjectService": {
        "GetProject": R, "ListProjects": R, "ExportProjects": R, "SummarizeProjects": R,
        "ListProjectChanges": R, "WatchProjects": R,
        "CreateProject": W, "UpdateProject": W, "DeleteProject": W, "BatchCreateProjects": W, "ImportProjects": W,
        # Creates tables, like AdminService.CreateTables.
        "InitializeDatabase": A,
    },
    "duckdb_spawn.v1.AdminService": {
        "CreateTables": A, "ListTables": A, "GetTable": A, "UpdateTable": A, "DeleteTable": A,
        "RefreshSchemas": A, "GetSchema": A, "SetLogLevel": A, "GetLogLevel": A,
    },
    "duckdb_spawn.v1.MonitoringService": {
        "GetHealth": R, "GetSystemMetrics": R,
    },
}

SERVICE_DESCRIPTORS: tuple[ServiceDescriptor, ...] = (
    project_service_pb2.DESCRIPTOR.services_by_name["ProjectService"],
    admin_service_pb2.DESCRIPTOR.services_by_name["AdminService"],
    monitoring_service_pb2.DESCRIPTOR.services_by_name["MonitoringService"],
)

HEALTH_SERVICE = "grpc.health.v1.Health"
REFLECTION_SERVICES = ("grpc.reflection.v1alpha.ServerReflection", "grpc.reflection.v1.ServerReflection")


class Access(enum.Enum):
    OPEN = "open"                    # anyone, credentials or not
    AUTHENTICATED = "authenticated"  # any caller with a valid token or mapped certificate
    ROLE = "role"                    # a caller whose role is at least the required one


def build_method_roles(services: tuple[ServiceDescriptor, ...] = SERVICE_DESCRIPTORS) -> dict[str, Role]:
    """'/pkg.Service/Method' -> role for every method in the descriptors; raises if one has no role."""
    roles: dict[str, Role] = {}
    missing = []
    for service in services:
        table = REQUIRED_ROLES.get(service.full_name, {})
        for method in service.methods:
            if method.name in table:
                roles[f"/{service.full_name}/{method.name}"] = table[method.name]
            else:
                missing.append(f"{service.full_name}/{method.name}")
    if missing:
        raise LookupError(f"no role assigned to {', '.join(missing)} in api/access_policy.py")
    return roles


METHOD_ROLES = build_method_roles()


class AccessPolicy:
    def __init__(self, reflection: str = "open") -> None:
        self._reflection = Access.AUTHENTICATED if reflection == "authenticated" else Access.OPEN

    def access(self, method: str) -> tuple[Access, Role]:
        """How `method` is guarded, and the role it needs when guarded by role."""
        service = method.split("/")[1] if method.count("/") >= 2 else ""
        if service == HEALTH_SERVICE:
            return Access.OPEN, Role.READER
        if service in REFLECTION_SERVICES:
            return self._reflection, Role.READER
        return Access.ROLE, METHOD_ROLES.get(method, Role.ADMIN)


def split_method(full_method: str) -> tuple[str, str]:
    """'/pkg.Service/Method' -> ('pkg.Service', 'Method')."""
    _, service, method = full_method.split("/", 2) if full_method.count("/") >= 2 else ("", "", full_method)
    return service, method
