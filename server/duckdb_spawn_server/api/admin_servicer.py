"""AdminService: protos in, domain calls, protos out."""

from __future__ import annotations

import grpc
from duckdb_spawn.v1 import admin_service_pb2 as pb
from duckdb_spawn.v1 import admin_service_pb2_grpc as pb_grpc
from google.protobuf import empty_pb2

from ..deferred import Deferred
from ..domain.names import parse_schema_name, parse_table_name, table_name
from ..domain.schema_registry import SchemaRegistry
from ..domain.table_admin import TableAdmin
from ..observability.log_level import LogLevelControl
from .admin_convert import refresh_to_proto, schema_to_proto, step_to_proto, table_to_proto
from .deadlines import remaining


class AdminServicer(pb_grpc.AdminServiceServicer):
    def __init__(self, tables: Deferred[TableAdmin], schemas: Deferred[SchemaRegistry],
                 log_levels: LogLevelControl) -> None:
        self._tables = tables
        self._schemas = schemas
        self._log_levels = log_levels

    def CreateTables(self, request: pb.CreateTablesRequest, context: grpc.ServicerContext) -> pb.CreateTablesResponse:
        results = self._tables.get().create_all(timeout=remaining(context))
        return pb.CreateTablesResponse(results=[
            pb.TableCreationResult(table=table_name(r.name), created=r.created) for r in results])

    def ListTables(self, request: pb.ListTablesRequest, context: grpc.ServicerContext) -> pb.ListTablesResponse:
        return pb.ListTablesResponse(tables=[table_to_proto(t) for t in self._tables.get().list(remaining(context))])

    def GetTable(self, request: pb.GetTableRequest, context: grpc.ServicerContext) -> pb.Table:
        return table_to_proto(self._tables.get().get(parse_table_name(request.name), remaining(context)))

    def UpdateTable(self, request: pb.UpdateTableRequest, context: grpc.ServicerContext) -> pb.UpdateTableResponse:
        update = self._tables.get().update(parse_table_name(request.name), schema_json=request.schema_json,
                                           dry_run=request.dry_run, force=request.force,
                                           timeout=remaining(context))
        return pb.UpdateTableResponse(steps=[step_to_proto(s) for s in update.steps], applied=update.applied,
                                      table=table_to_proto(update.table))

    def DeleteTable(self, request: pb.DeleteTableRequest, context: grpc.ServicerContext) -> empty_pb2.Empty:
        self._tables.get().delete(parse_table_name(request.name), force=request.force, timeout=remaining(context))
        return empty_pb2.Empty()

    def GetSchema(self, request: pb.GetSchemaRequest, context: grpc.ServicerContext) -> pb.Schema:
        return schema_to_proto(self._schemas.get().describe(parse_schema_name(request.name)))

    def RefreshSchemas(self, request: pb.RefreshSchemasRequest,
                       context: grpc.ServicerContext) -> pb.RefreshSchemasResponse:
        ids = [parse_schema_name(name, f"names[{index}]") for index, name in enumerate(request.names)]
        reports = self._schemas.get().refresh(ids, timeout=remaining(context))
        return pb.RefreshSchemasResponse(results=[refresh_to_proto(r) for r in reports])

    def GetLogLevel(self, request: pb.GetLogLevelRequest, context: grpc.ServicerContext) -> pb.LogLevel:
        return pb.LogLevel(level=self._log_levels.get())

    def SetLogLevel(self, request: pb.SetLogLevelRequest, context: grpc.ServicerContext) -> pb.LogLevel:
        return pb.LogLevel(level=self._log_levels.set(request.level))


