"""ProjectService: protos in, domain calls, protos out. No logic of its own.

Each method runs on the event loop. What never waits there (validating a
create and handing it to the group commit, a project already in memory)
stays on the loop; anything that may wait on DuckDB goes through the
offloader, bounded by the call's deadline and QUERY_TIMEOUT.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator
from typing import Any

import grpc
from duckdb_spawn.v1 import project_service_pb2 as pb
from google.protobuf import empty_pb2

from ..deferred import Deferred
from ..domain.errors import FieldViolation, InvalidArgument
from ..domain.imports import ArrowRows, ImportChunk, ImportMode, ImportRun
from ..domain.names import parse_project_name, table_name
from ..domain.projects import ProjectManager
from ..domain.request_ids import RequestKey, parse_request_id
from ..domain.table_admin import TableAdmin
from .convert import (
    RequestHasher,
    aggregation_from_proto,
    export_format_from_proto,
    import_mode_from_proto,
    import_report_to_proto,
    request_fingerprint,
    struct_rows_to_columns,
    struct_to_dict,
    summary_to_proto,
)
from .deadlines import remaining
from .offload import Offloader
from .wire import ProjectWire, export_chunk


def _request_key(request: Any, method: str) -> RequestKey | None:
    request_id = parse_request_id(request.request_id)
    return RequestKey(request_id, method, request_fingerprint(request)) if request_id else None


class ProjectServicer:
    def __init__(self, projects: Deferred[ProjectManager], tables: Deferred[TableAdmin], offload: Offloader,
                 wire: ProjectWire) -> None:
        self._projects = projects
        self._tables = tables
        self._offload = offload
        self._wire = wire

    async def CreateProject(self, request: pb.CreateProjectRequest, context: grpc.aio.ServicerContext) -> bytes:
        manager = self._projects.get()
        attributes = struct_to_dict(request.project.attributes)
        key = _request_key(request, "CreateProject")
        if key is not None:  # an earlier run is looked up first: that reads the database
            timeout = remaining(context)
            record = await self._offload.run(context, lambda: manager.create(
                attributes, request.project_id, request=key, timeout=timeout))
        else:
            pending = manager.start_create(attributes, request.project_id, timeout=0)
            record = (await self._offload.completions.awaitable(pending))[0]
        return self._wire.project(record)

    async def GetProject(self, request: pb.GetProjectRequest, context: grpc.aio.ServicerContext) -> bytes:
        manager = self._projects.get()
        project_id = parse_project_name(request.name)
        record = manager.peek(project_id)
        if record is None:
            record = await self._offload.run(context, manager.get, project_id)
        return self._wire.project(record)

    async def ListProjects(self, request: pb.ListProjectsRequest, context: grpc.aio.ServicerContext) -> bytes:
        manager = self._projects.get()
        held = manager.peek_list(request.page_size, request.page_token, filter_text=request.filter,
                                 order_by=request.order_by)
        if held is not None:  # the same page of an unchanged table: no database, no thread
            return self._wire.list_response(held.records, held.next_page_token, held.total_size)
        timeout = remaining(context)

        def page() -> bytes:
            listed = manager.list(request.page_size, request.page_token, filter_text=request.filter,
                                  order_by=request.order_by, timeout=timeout)
            return self._wire.list_response(listed.records, listed.next_page_token, listed.total_size)

        return await self._offload.run(context, page)

    async def UpdateProject(self, request: pb.UpdateProjectRequest, context: grpc.aio.ServicerContext) -> bytes:
        manager = self._projects.get()
        project_id = parse_project_name(request.project.name, "project.name")
        key = _request_key(request, "UpdateProject")
        given = struct_to_dict(request.project.attributes)
        paths = list(request.update_mask.paths) if request.HasField("update_mask") else []
        patch, replace_all = patch_from_mask(given, paths)
        timeout = remaining(context)
        record = await self._offload.run(context, lambda: manager.update(
            project_id, patch, replace_all=replace_all, etag=request.project.etag, request=key, timeout=timeout))
        return self._wire.project(record)

    async def DeleteProject(self, request: pb.DeleteProjectRequest,
                            context: grpc.aio.ServicerContext) -> empty_pb2.Empty:
        manager = self._projects.get()
        project_id = parse_project_name(request.name)
        timeout = remaining(context)
        await self._offload.run(context, lambda: manager.delete(project_id, request.etag, timeout=timeout))
        return empty_pb2.Empty()

    async def BatchCreateProjects(self, request: pb.BatchCreateProjectsRequest,
                                  context: grpc.aio.ServicerContext) -> pb.BatchCreateProjectsResponse:
        manager = self._projects.get()
        inner = [FieldViolation(f"requests[{i}].request_id", "set request_id on the batch, not on its requests",
                                "NOT_ALLOWED") for i, r in enumerate(request.requests) if r.request_id]
        if inner:
            raise InvalidArgument("request ids belong on the batch", violations=inner, reason="INVALID_BATCH")
        key = _request_key(request, "BatchCreateProjects")
        timeout = remaining(context)

        def create() -> list[bytes]:  # validating up to 1,000 requests is work for a thread, not the loop
            items = [(struct_to_dict(r.project.attributes), r.project_id) for r in request.requests]
            return [self._wire.project(r) for r in manager.batch_create(items, request=key, timeout=timeout)]

        projects = await self._offload.run(context, create)
        return pb.BatchCreateProjectsResponse(projects=[pb.Project.FromString(data) for data in projects])

    async def ImportProjects(self, requests: AsyncIterator[pb.ImportProjectsRequest],
                             context: grpc.aio.ServicerContext) -> pb.ImportProjectsResponse:
        """Messages are read here, on the loop; each is validated and spooled in the offloader while
        the next one arrives (one message ahead, in order)."""
        manager = self._projects.get()
        messages = aiter(requests)
        first = await anext(messages, None)
        options = first if first is not None else pb.ImportProjectsRequest()
        mode = import_mode_from_proto(options.mode)
        request_id = parse_request_id(options.request_id)
        hasher = RequestHasher() if request_id is not None else None
        timeout = remaining(context)
        run = await self._offload.run(context, lambda: manager.begin_import(mode, request_id=request_id,
                                                                            timeout=timeout))
        reading: asyncio.Future[pb.ImportProjectsRequest | None] | None = None
        try:
            message = first
            while message is not None:
                if hasher is not None:
                    hasher.add(message)
                reading = asyncio.ensure_future(anext(messages, None))
                await self._offload.run(context, _add, run, message)  # reading the rows is work: off the loop
                message = await reading
            report = await self._offload.run(context, run.finish, hasher.hexdigest() if hasher else "")
        finally:
            if reading is not None:  # the import failed while a message was on its way: drop it quietly
                reading.cancel()
                reading.add_done_callback(_retrieved)
            run.close()  # removes the spool file; quick enough for the loop
        return import_report_to_proto(report)

    async def ExportProjects(self, request: pb.ExportProjectsRequest,
                             context: grpc.aio.ServicerContext) -> AsyncIterator[pb.ExportProjectsResponse]:
        manager = self._projects.get()
        export_format = export_format_from_proto(request.format)
        timeout = remaining(context)

        def chunks() -> Iterator[bytes]:
            with contextlib.closing(manager.export(export_format, request.filter, request.order_by,
                                                   timeout=timeout)) as exported:
                for data, rows in exported:
                    yield export_chunk(data, rows)

        async for chunk in self._offload.iterate(context, chunks):
            yield chunk

    async def SummarizeProjects(self, request: pb.SummarizeProjectsRequest,
                                context: grpc.aio.ServicerContext) -> pb.SummarizeProjectsResponse:
        manager = self._projects.get()
        aggregations = [aggregation_from_proto(a) for a in request.aggregations]
        timeout = remaining(context)
        summary = await self._offload.run(context, lambda: manager.summarize(
            request.filter, list(request.group_by), aggregations, timeout=timeout))
        return summary_to_proto(summary)

    async def InitializeDatabase(self, request: pb.InitializeDatabaseRequest,
                                 context: grpc.aio.ServicerContext) -> pb.InitializeDatabaseResponse:
        """Kept for users of the earlier REST API (`POST /ops/initialize`): AdminService.CreateTables' use case."""
        tables = self._tables.get()
        timeout = remaining(context)
        results = await self._offload.run(context, lambda: tables.create_all(timeout=timeout))
        return pb.InitializeDatabaseResponse(tables=[
            pb.TableInitialization(table=table_name(r.name), created=r.created) for r in results])


def _retrieved(task: asyncio.Future[Any]) -> None:
    if not task.cancelled():
        task.exception()  # read, so asyncio does not log it as never retrieved


def _add(run: ImportRun, message: pb.ImportProjectsRequest) -> None:
    run.add(_chunk(message))


def _chunk(message: pb.ImportProjectsRequest) -> ImportChunk | None:
    which = message.WhichOneof("rows")
    if which == "struct_rows":
        return struct_rows_to_columns(message.struct_rows.rows)
    if which == "arrow_ipc":
        return ArrowRows(message.arrow_ipc)
    return None


def patch_from_mask(given: dict[str, Any], paths: list[str]) -> tuple[dict[str, Any], bool]:
    """An AIP-161 update mask -> (attributes to change, whether to replace the whole map).

    No mask: the attributes given. `attributes.<field>`: that field, cleared
    when absent from the request. `attributes` or `*`: the whole map.
    """
    if not paths:
        return given, False
    if "*" in paths or "attributes" in paths:
        if len(paths) > 1:
            raise _bad_mask("a mask with '*' or 'attributes' must not list other paths")
        return given, True
    patch: dict[str, Any] = {}
    violations = []
    for index, path in enumerate(paths):
        field = path.removeprefix("attributes.")
        if not path.startswith("attributes.") or not field or "." in field:
            violations.append(FieldViolation(f"update_mask.paths[{index}]",
                                             "must be '*', 'attributes' or 'attributes.<field>'", "INVALID_MASK"))
            continue
        patch[field] = given.get(field)
    if violations:
        raise InvalidArgument("update_mask is invalid", violations=violations, reason="INVALID_MASK")
    return patch, False


def _bad_mask(description: str) -> InvalidArgument:
    return InvalidArgument(description, violations=[FieldViolation("update_mask", description, "INVALID_MASK")],
                           reason="INVALID_MASK")


__all__ = ["ImportMode", "ProjectServicer", "patch_from_mask"]
