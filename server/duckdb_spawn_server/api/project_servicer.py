"""ProjectService: protos in, domain calls, protos out. No logic of its own."""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator
from typing import Any

import grpc
from duckdb_spawn.v1 import project_service_pb2 as pb
from duckdb_spawn.v1 import project_service_pb2_grpc as pb_grpc
from google.protobuf import empty_pb2

from ..deferred import Deferred
from ..domain.errors import FieldViolation, InvalidArgument
from ..domain.idempotency import RequestKey, parse_request_id
from ..domain.imports import ArrowRows, ImportChunk, ImportMode, StructRows
from ..domain.names import parse_project_name, table_name
from ..domain.projects import ProjectManager
from ..domain.table_admin import TableAdmin
from .convert import (
    RequestHasher,
    aggregation_from_proto,
    export_format_from_proto,
    import_mode_from_proto,
    import_report_to_proto,
    project_to_proto,
    request_fingerprint,
    struct_to_dict,
    summary_to_proto,
)
from .deadlines import remaining


def _request_key(request: Any, method: str) -> RequestKey | None:
    request_id = parse_request_id(request.request_id)
    return RequestKey(request_id, method, request_fingerprint(request)) if request_id else None


class ProjectServicer(pb_grpc.ProjectServiceServicer):
    def __init__(self, projects: Deferred[ProjectManager], tables: Deferred[TableAdmin]) -> None:
        self._projects = projects
        self._tables = tables

    def CreateProject(self, request: pb.CreateProjectRequest, context: grpc.ServicerContext) -> pb.Project:
        record = self._projects.get().create(struct_to_dict(request.project.attributes), request.project_id,
                                             request=_request_key(request, "CreateProject"),
                                             timeout=remaining(context))
        return project_to_proto(record)

    def GetProject(self, request: pb.GetProjectRequest, context: grpc.ServicerContext) -> pb.Project:
        return project_to_proto(self._projects.get().get(parse_project_name(request.name), timeout=remaining(context)))

    def ListProjects(self, request: pb.ListProjectsRequest,
                     context: grpc.ServicerContext) -> pb.ListProjectsResponse:
        page = self._projects.get().list(request.page_size, request.page_token, filter_text=request.filter,
                                         order_by=request.order_by, timeout=remaining(context))
        return pb.ListProjectsResponse(projects=[project_to_proto(r) for r in page.records],
                                       next_page_token=page.next_page_token, total_size=page.total_size)

    def UpdateProject(self, request: pb.UpdateProjectRequest, context: grpc.ServicerContext) -> pb.Project:
        project_id = parse_project_name(request.project.name, "project.name")
        key = _request_key(request, "UpdateProject")
        given = struct_to_dict(request.project.attributes)
        paths = list(request.update_mask.paths) if request.HasField("update_mask") else []
        patch, replace_all = patch_from_mask(given, paths)
        record = self._projects.get().update(project_id, patch, replace_all=replace_all, etag=request.project.etag,
                                             request=key, timeout=remaining(context))
        return project_to_proto(record)

    def DeleteProject(self, request: pb.DeleteProjectRequest, context: grpc.ServicerContext) -> empty_pb2.Empty:
        self._projects.get().delete(parse_project_name(request.name), request.etag, timeout=remaining(context))
        return empty_pb2.Empty()

    def BatchCreateProjects(self, request: pb.BatchCreateProjectsRequest,
                            context: grpc.ServicerContext) -> pb.BatchCreateProjectsResponse:
        inner = [FieldViolation(f"requests[{i}].request_id", "set request_id on the batch, not on its requests",
                                "NOT_ALLOWED") for i, r in enumerate(request.requests) if r.request_id]
        if inner:
            raise InvalidArgument("request ids belong on the batch", violations=inner, reason="INVALID_BATCH")
        items = [(struct_to_dict(r.project.attributes), r.project_id) for r in request.requests]
        records = self._projects.get().batch_create(items, request=_request_key(request, "BatchCreateProjects"),
                                                    timeout=remaining(context))
        return pb.BatchCreateProjectsResponse(projects=[project_to_proto(r) for r in records])

    def ImportProjects(self, request_iterator: Iterable[pb.ImportProjectsRequest],
                       context: grpc.ServicerContext) -> pb.ImportProjectsResponse:
        messages = iter(request_iterator)
        first = next(messages, None)
        options = first if first is not None else pb.ImportProjectsRequest()
        mode = import_mode_from_proto(options.mode)
        request_id = parse_request_id(options.request_id)
        hasher = RequestHasher()

        def chunks() -> Iterator[ImportChunk | None]:
            if first is None:
                return
            for message in itertools.chain([first], messages):
                hasher.add(message)
                yield _chunk(message)

        report = self._projects.get().import_rows(chunks(), mode, request_id=request_id,
                                                  fingerprint=hasher.hexdigest, timeout=remaining(context))
        return import_report_to_proto(report)

    def ExportProjects(self, request: pb.ExportProjectsRequest,
                       context: grpc.ServicerContext) -> Iterator[pb.ExportProjectsResponse]:
        chunks = self._projects.get().export(export_format_from_proto(request.format), request.filter,
                                             request.order_by, timeout=remaining(context))
        for data, rows in chunks:
            yield pb.ExportProjectsResponse(data=data, row_count=rows)

    def SummarizeProjects(self, request: pb.SummarizeProjectsRequest,
                          context: grpc.ServicerContext) -> pb.SummarizeProjectsResponse:
        summary = self._projects.get().summarize(request.filter, list(request.group_by),
                                                 [aggregation_from_proto(a) for a in request.aggregations],
                                                 timeout=remaining(context))
        return summary_to_proto(summary)

    def InitializeDatabase(self, request: pb.InitializeDatabaseRequest,
                           context: grpc.ServicerContext) -> pb.InitializeDatabaseResponse:
        results = self._tables.get().create_all(timeout=remaining(context))
        return pb.InitializeDatabaseResponse(tables=[
            pb.TableInitialization(table=table_name(r.name), created=r.created) for r in results])


def _chunk(message: pb.ImportProjectsRequest) -> ImportChunk | None:
    which = message.WhichOneof("rows")
    if which == "struct_rows":
        return StructRows([struct_to_dict(row) for row in message.struct_rows.rows])
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
