"""AdminService: protos in, domain calls, protos out; anything that waits runs in the offloader."""

from __future__ import annotations

import grpc
from duckdb_spawn.v1 import admin_service_pb2 as pb
from google.protobuf import empty_pb2

from ..deferred import Deferred
from ..domain.names import parse_schema_name, parse_table_name, table_name
from ..domain.ports import SchemaRegistry
from ..domain.table_admin import TableAdmin
from ..observability.log_level import LogLevelControl
from .admin_convert import refresh_to_proto, schema_to_proto, step_to_proto, table_to_proto
from .deadlines import remaining
from .offload import Offloader


class AdminServicer:
    def __init__(self, tables: Deferred[TableAdmin], schemas: Deferred[SchemaRegistry],
                 log_levels: LogLevelControl, offload: Offloader) -> None:
        self._tables = tables
        self._schemas = schemas
        self._log_levels = log_levels
        self._offload = offload

    async def CreateTables(self, request: pb.CreateTablesRequest,
                           context: grpc.aio.ServicerContext) -> pb.CreateTablesResponse:
        tables, timeout = self._tables.get(), remaining(context)
        results = await self._offload.run(context, lambda: tables.create_all(timeout=timeout))
        return pb.CreateTablesResponse(results=[
            pb.TableCreationResult(table=table_name(r.name), created=r.created) for r in results])

    async def ListTables(self, request: pb.ListTablesRequest,
                         context: grpc.aio.ServicerContext) -> pb.ListTablesResponse:
        tables, timeout = self._tables.get(), remaining(context)
        listed = await self._offload.run(context, tables.list, timeout)
        return pb.ListTablesResponse(tables=[table_to_proto(t) for t in listed])

    async def GetTable(self, request: pb.GetTableRequest, context: grpc.aio.ServicerContext) -> pb.Table:
        tables, timeout = self._tables.get(), remaining(context)
        name = parse_table_name(request.name)
        return table_to_proto(await self._offload.run(context, tables.get, name, timeout))

    async def UpdateTable(self, request: pb.UpdateTableRequest,
                          context: grpc.aio.ServicerContext) -> pb.UpdateTableResponse:
        tables, timeout = self._tables.get(), remaining(context)
        name = parse_table_name(request.name)
        update = await self._offload.run(context, lambda: tables.update(
            name, schema_json=request.schema_json, dry_run=request.dry_run, force=request.force, timeout=timeout))
        return pb.UpdateTableResponse(steps=[step_to_proto(s) for s in update.steps], applied=update.applied,
                                      table=table_to_proto(update.table))

    async def DeleteTable(self, request: pb.DeleteTableRequest,
                          context: grpc.aio.ServicerContext) -> empty_pb2.Empty:
        tables, timeout = self._tables.get(), remaining(context)
        name = parse_table_name(request.name)
        await self._offload.run(context, lambda: tables.delete(name, force=request.force, timeout=timeout))
        return empty_pb2.Empty()

    async def GetSchema(self, request: pb.GetSchemaRequest, context: grpc.aio.ServicerContext) -> pb.Schema:
        schemas = self._schemas.get()
        schema_id = parse_schema_name(request.name)
        return schema_to_proto(await self._offload.run(context, schemas.describe, schema_id))

    async def RefreshSchemas(self, request: pb.RefreshSchemasRequest,
                             context: grpc.aio.ServicerContext) -> pb.RefreshSchemasResponse:
        schemas, timeout = self._schemas.get(), remaining(context)
        ids = [parse_schema_name(name, f"names[{index}]") for index, name in enumerate(request.names)]
        reports = await self._offload.run(context, lambda: schemas.refresh(ids, timeout=timeout))
        return pb.RefreshSchemasResponse(results=[refresh_to_proto(r) for r in reports])

    async def GetLogLevel(self, request: pb.GetLogLevelRequest, context: grpc.aio.ServicerContext) -> pb.LogLevel:
        return pb.LogLevel(level=self._log_levels.get())

    async def SetLogLevel(self, request: pb.SetLogLevelRequest, context: grpc.aio.ServicerContext) -> pb.LogLevel:
        return pb.LogLevel(level=self._log_levels.set(request.level))
