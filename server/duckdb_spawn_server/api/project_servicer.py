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
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import grpc
from duckdb_spawn.v1 import project_service_pb2 as pb
from google.protobuf import empty_pb2

from ..deferred import Deferred
from ..domain.errors import FailedPrecondition, FieldViolation, InvalidArgument, Unavailable
from ..domain.imports import ArrowRows, ImportChunk, ImportMode, ImportRun
from ..domain.names import parse_project_name, table_name
from ..domain.projects import ProjectManager
from ..domain.records import ReadPosition
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
from .watch import WatchHub
from .wire import ProjectWire, export_chunk


def _request_key(request: Any, method: str) -> RequestKey | None:
    request_id = parse_request_id(request.request_id)
    return RequestKey(request_id, method, request_fingerprint(request)) if request_id else None


class ProjectServicer:
    def __init__(self, projects: Deferred[ProjectManager], tables: Deferred[TableAdmin], offload: Offloader,
                 wire: ProjectWire, watch: WatchSettings | None = None) -> None:
        self._projects = projects
        self._tables = tables
        self._offload = offload
        self._wire = wire
        self._watch = watch or WatchSettings(None)

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
        read_time = _time(request, "read_time")
        record = manager.peek(project_id) if read_time is None else None
        if record is None:
            record = await self._offload.run(context, lambda: manager.get(project_id, read_time=read_time))
        return self._wire.project(record)

    async def ListProjects(self, request: pb.ListProjectsRequest, context: grpc.aio.ServicerContext) -> bytes:
        manager = self._projects.get()
        read_time = _time(request, "read_time")
        held = manager.peek_list(request.page_size, request.page_token, filter_text=request.filter,
                                 order_by=request.order_by) if read_time is None else None
        if held is not None:  # the same page of an unchanged table: no database, no thread
            return self._wire.list_response(held.records, held.next_page_token, held.total_size, held.read_position)
        timeout = remaining(context)

        def page() -> bytes:
            listed = manager.list(request.page_size, request.page_token, filter_text=request.filter,
                                  order_by=request.order_by, read_time=read_time, timeout=timeout)
            return self._wire.list_response(listed.records, listed.next_page_token, listed.total_size,
                                            listed.read_position)

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
            if context.cancelled() or context.done():  # the client went away: its stream's end is no "commit"
                raise asyncio.CancelledError
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
        read_time = _time(request, "read_time")
        timeout = remaining(context)

        def chunks() -> Iterator[bytes]:
            snapshot = ReadPosition()
            with contextlib.closing(manager.export(export_format, request.filter, request.order_by,
                                                   read_time=read_time, read_position=snapshot,
                                                   timeout=timeout)) as exported:
                first = True
                for data, rows in exported:
                    # The first response says which snapshot the export reads: watch from there.
                    yield export_chunk(data, rows, manager.read_position(snapshot.value) if first else "")
                    first = False
                if first and snapshot.value is not None:  # nothing to send (no JSON line matched): the position
                    yield export_chunk(b"", 0, manager.read_position(snapshot.value))

        async for chunk in self._offload.iterate(context, chunks):
            yield chunk

    async def SummarizeProjects(self, request: pb.SummarizeProjectsRequest,
                                context: grpc.aio.ServicerContext) -> pb.SummarizeProjectsResponse:
        manager = self._projects.get()
        aggregations = [aggregation_from_proto(a) for a in request.aggregations]
        read_time = _time(request, "read_time")
        timeout = remaining(context)
        summary = await self._offload.run(context, lambda: manager.summarize(
            request.filter, list(request.group_by), aggregations, read_time=read_time, timeout=timeout))
        return summary_to_proto(summary)

    async def ListProjectChanges(self, request: pb.ListProjectChangesRequest,
                                 context: grpc.aio.ServicerContext) -> pb.ListProjectChangesResponse:
        manager = self._projects.get()
        start_time = _time(request, "start_time")
        timeout = remaining(context)

        def page() -> pb.ListProjectChangesResponse:
            listed = manager.list_changes(request.start_position, start_time, request.page_size, request.page_token,
                                          timeout=timeout)
            feed = manager.feed()
            return pb.ListProjectChangesResponse(
                changes=[self._wire.change(c, feed.token(c.position)) for c in listed.changes],
                next_page_token=listed.next_page_token, position=listed.position)

        return await self._offload.run(context, page)

    async def WatchProjects(self, request: pb.WatchProjectsRequest,
                            context: grpc.aio.ServicerContext) -> AsyncIterator[pb.WatchProjectsResponse]:
        """Changes as they commit: read after each wake-up, progress when silent, UNAVAILABLE on drain."""
        manager = self._projects.get()
        hub, settings = self._watch.hub, self._watch
        if hub is None:
            raise FailedPrecondition("the change log is off on this server (CHANGE_LOG)",
                                     reason="CHANGE_LOG_DISABLED")
        start_time = _time(request, "start_time")
        interval = settings.progress_interval
        if request.HasField("progress_interval"):
            interval = _progress_interval(request.progress_interval)
        hub.joined()
        try:
            position = await self._offload.run(context, lambda: manager.watch_start(request.start_position,
                                                                                   start_time))
            feed = manager.feed()
            yield pb.WatchProjectsResponse(position=feed.token(position))  # a position to resume from, at once
            loop = asyncio.get_running_loop()
            quiet_since = loop.time()
            while not hub.closing:
                seen = hub.version  # taken before the read: a commit during it wakes the next wait at once
                response, position, count = await self._offload.run(context, self._watched, manager, position)
                if response is not None:
                    hub.delivered += count
                    yield response
                    quiet_since = loop.time()
                    if count == WATCH_BATCH:
                        continue  # more are waiting
                while hub.version == seen and not hub.closing:
                    left = interval - (loop.time() - quiet_since)
                    if left <= 0:  # silent for a whole interval: progress, with the latest position
                        yield pb.WatchProjectsResponse(position=feed.token(position))
                        quiet_since = loop.time()
                        continue
                    await hub.wait(seen, left)
            raise Unavailable("the server is shutting down; watch again from the last position received",
                              retry_after_seconds=1.0, reason="SHUTTING_DOWN")
        finally:
            hub.left()

    def _watched(self, manager: ProjectManager,
                 position: int) -> tuple[pb.WatchProjectsResponse | None, int, int]:
        """The changes after `position` as one response (None: none), the position reached, how many."""
        batch = manager.changes_after(position, WATCH_BATCH)
        if not batch.changes:
            return None, batch.reached, 0
        feed = manager.feed()
        changes = [self._wire.change(c, feed.token(c.position)) for c in batch.changes]
        return pb.WatchProjectsResponse(changes=changes, position=feed.token(batch.reached)), batch.reached, len(
            changes)

    async def InitializeDatabase(self, request: pb.InitializeDatabaseRequest,
                                 context: grpc.aio.ServicerContext) -> pb.InitializeDatabaseResponse:
        """Kept for users of the earlier REST API (`POST /ops/initialize`): AdminService.CreateTables' use case."""
        tables = self._tables.get()
        timeout = remaining(context)
        results = await self._offload.run(context, lambda: tables.create_all(timeout=timeout))
        return pb.InitializeDatabaseResponse(tables=[
            pb.TableInitialization(table=table_name(r.name), created=r.created) for r in results])


# How many changes one WatchProjects response carries at most.
WATCH_BATCH = 500
MIN_PROGRESS_SECONDS = 1.0
MAX_PROGRESS_SECONDS = 300.0


@dataclass(frozen=True)
class WatchSettings:
    hub: WatchHub | None  # None: the change log is off
    progress_interval: float = 5.0


_MAX_DURATION_SECONDS = 315_576_000_000  # google.protobuf.Duration's range (10,000 years)


def _progress_interval(duration: Any) -> float:
    """A requested progress interval, within the bounds; a negative or malformed one is INVALID_ARGUMENT."""
    seconds, nanos = duration.seconds, duration.nanos
    if not 0 <= seconds <= _MAX_DURATION_SECONDS or not 0 <= nanos < 1_000_000_000:
        description = "must be a positive duration"
        raise InvalidArgument(f"progress_interval {description}", reason="INVALID_DURATION",
                              violations=[FieldViolation("progress_interval", description, "INVALID_DURATION")])
    return min(max(seconds + nanos / 1e9, MIN_PROGRESS_SECONDS), MAX_PROGRESS_SECONDS)


def _time(request: Any, field: str) -> datetime | None:
    """A Timestamp field as naive UTC (what the storage's TIMESTAMP columns hold); None when unset."""
    if not request.HasField(field):
        return None
    try:
        return request.__getattribute__(field).ToDatetime()
    except (ValueError, OverflowError):
        raise InvalidArgument(f"{field} is not a valid time", reason="INVALID_TIME",
                              violations=[FieldViolation(field, "not a valid time", "INVALID_TIME")]) from None


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
