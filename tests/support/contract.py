"""Every RPC of the contract, callable generically, with a valid request for each.

The list comes from the service descriptors, so a new RPC shows up in the
security matrix and the injection corpus by itself (and the tests fail
until `VALID_REQUESTS` has an entry for it).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import grpc
from duckdb_spawn.v1 import admin_service_pb2 as admin_pb
from duckdb_spawn.v1 import admin_service_pb2_grpc as admin_grpc
from duckdb_spawn.v1 import monitoring_service_pb2 as monitoring_pb
from duckdb_spawn.v1 import monitoring_service_pb2_grpc as monitoring_grpc
from duckdb_spawn.v1 import project_service_pb2 as pb
from duckdb_spawn.v1 import project_service_pb2_grpc as project_grpc
from duckdb_spawn_server.api.access_policy import SERVICE_DESCRIPTORS
from duckdb_spawn_server.api.admin_servicer import AdminServicer
from duckdb_spawn_server.api.monitoring_servicer import MonitoringServicer
from duckdb_spawn_server.api.project_servicer import ProjectServicer
from google.protobuf import message_factory
from google.protobuf.descriptor import MethodDescriptor

from tests.support.rpc import create_request, valid_attributes
from tests.support.servers import Stubs

_SERVICERS = {
    "duckdb_spawn.v1.ProjectService": (ProjectServicer, project_grpc.ProjectServiceServicer),
    "duckdb_spawn.v1.AdminService": (AdminServicer, admin_grpc.AdminServiceServicer),
    "duckdb_spawn.v1.MonitoringService": (MonitoringServicer, monitoring_grpc.MonitoringServiceServicer),
}


@dataclass(frozen=True)
class Rpc:
    descriptor: MethodDescriptor

    @property
    def service(self) -> str:
        return self.descriptor.containing_service.full_name

    @property
    def name(self) -> str:
        return self.descriptor.name

    @property
    def path(self) -> str:
        return f"/{self.service}/{self.name}"

    @property
    def request_class(self) -> type:
        return message_factory.GetMessageClass(self.descriptor.input_type)

    @property
    def response_class(self) -> type:
        return message_factory.GetMessageClass(self.descriptor.output_type)

    @property
    def implemented(self) -> bool:
        """Whether this branch's servicer implements the method (else it answers UNIMPLEMENTED)."""
        ours, generated = _SERVICERS[self.service]
        return getattr(ours, self.name) is not getattr(generated, self.name)

    def call(self, channel: grpc.Channel, request: Any, *, metadata: Any = None,
             timeout: float = 30) -> tuple[grpc.StatusCode, grpc.RpcError | None, Any]:
        """Calls the RPC (a list of requests for client streaming); returns (code, error, response)."""
        kind = ("stream" if self.descriptor.client_streaming else "unary") + "_" + \
               ("stream" if self.descriptor.server_streaming else "unary")
        multicallable = getattr(channel, kind)(self.path, request_serializer=lambda m: m.SerializeToString(),
                                               response_deserializer=self.response_class.FromString)
        argument = iter(request) if self.descriptor.client_streaming else request
        try:
            response = multicallable(argument, metadata=metadata, timeout=timeout)
            if self.descriptor.server_streaming and self.name in ENDLESS:  # the first response is the answer
                first = next(response)
                response.cancel()
                response = [first]
            elif self.descriptor.server_streaming:
                response = list(response)
        except grpc.RpcError as error:
            return error.code(), error, None
        return grpc.StatusCode.OK, None, response


# Streams that never end by themselves (a watch follows changes until cancelled).
ENDLESS = frozenset({"WatchProjects"})


def all_rpcs() -> list[Rpc]:
    return [Rpc(method) for service in SERVICE_DESCRIPTORS for method in service.methods]


# -- a valid request for every RPC ------------------------------------------------------------
# Each factory may prepare what the call needs (a project to read or delete) through `admin`,
# stubs holding the admin role. Requests avoid lasting side effects where they can (dry runs).
RequestFactory = Callable[[Stubs], Any]


def _existing_project(admin: Stubs) -> str:
    return admin.projects.CreateProject(create_request(project_name=f"fixture {uuid.uuid4()}"), timeout=30).name


def _update(admin: Stubs) -> pb.UpdateProjectRequest:
    request = pb.UpdateProjectRequest(project=pb.Project(name=_existing_project(admin)))
    request.project.attributes.update({"status": "ACTIVE"})
    request.update_mask.paths.append("attributes.status")
    return request


def _import(admin: Stubs) -> Iterator[pb.ImportProjectsRequest]:
    message = pb.ImportProjectsRequest(mode=pb.IMPORT_MODE_ATOMIC)
    message.struct_rows.rows.add().update(valid_attributes(project_name="imported"))
    return [message]  # type: ignore[return-value]


VALID_REQUESTS: dict[str, RequestFactory] = {
    "CreateProject": lambda admin: create_request(project_name="matrix"),
    "GetProject": lambda admin: pb.GetProjectRequest(name=_existing_project(admin)),
    "ListProjects": lambda admin: pb.ListProjectsRequest(page_size=5),
    "UpdateProject": _update,
    "DeleteProject": lambda admin: pb.DeleteProjectRequest(name=_existing_project(admin)),
    "BatchCreateProjects": lambda admin: pb.BatchCreateProjectsRequest(
        requests=[create_request(project_name="batch")]),
    "ImportProjects": _import,
    "ExportProjects": lambda admin: pb.ExportProjectsRequest(format=pb.EXPORT_FORMAT_JSONL),
    "ListProjectChanges": lambda admin: pb.ListProjectChangesRequest(page_size=5),
    "WatchProjects": lambda admin: pb.WatchProjectsRequest(),
    "SummarizeProjects": lambda admin: pb.SummarizeProjectsRequest(
        aggregations=[pb.Aggregation(function=pb.AGGREGATE_FUNCTION_COUNT)]),
    "InitializeDatabase": lambda admin: pb.InitializeDatabaseRequest(),
    "CreateTables": lambda admin: admin_pb.CreateTablesRequest(),
    "ListTables": lambda admin: admin_pb.ListTablesRequest(),
    "GetTable": lambda admin: admin_pb.GetTableRequest(name="tables/projects"),
    "UpdateTable": lambda admin: admin_pb.UpdateTableRequest(name="tables/projects", dry_run=True),
    "DeleteTable": lambda admin: admin_pb.DeleteTableRequest(name="tables/projects", force=True),
    "RefreshSchemas": lambda admin: admin_pb.RefreshSchemasRequest(),
    "GetSchema": lambda admin: admin_pb.GetSchemaRequest(name="schemas/project_schema"),
    "SetLogLevel": lambda admin: admin_pb.SetLogLevelRequest(level="INFO"),
    "GetLogLevel": lambda admin: admin_pb.GetLogLevelRequest(),
    "GetHealth": lambda admin: monitoring_pb.GetHealthRequest(),
    "GetSystemMetrics": lambda admin: monitoring_pb.GetSystemMetricsRequest(),
}

# Calls that destroy what later calls need run last.
DESTRUCTIVE = ("DeleteTable",)
