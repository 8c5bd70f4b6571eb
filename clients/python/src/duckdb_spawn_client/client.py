"""`Client`: every RPC of duckdb-spawn as a Python method with keyword arguments.

    from duckdb_spawn_client import Client

    with Client("localhost:50051", token=open("admin.token").read().strip()) as client:
        project = client.create_project({"project_name": "Solar farm", "total_amount": Decimal("1250000.50"),
                                         "maturity_years": 15, "expected_tri": Decimal("7.25"),
                                         "dscr": Decimal("1.35")})
        for p in client.iter_projects(filter='status = "ACTIVE"', order_by="total_amount desc"):
            print(p.name, p.attributes["total_amount"])

Every call has a deadline (`timeout`, seconds; the client's default unless
given), is retried on UNAVAILABLE only (see retry.py) within that deadline,
and raises a `DuckdbSpawnError` subclass carrying the decoded google.rpc
details. Writes get a random request id unless one is given, so a retried
write is applied once.

Reads take `read_time=` (a datetime; naive means UTC) to see the data as it
was then, within the server's change retention. `list_changes` and `watch`
follow the change feed; positions (`ProjectPage.read_position`,
`ProjectChange.position`, ...) are opaque strings to resume from.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import grpc
import pyarrow as pa
from duckdb_spawn.v1 import admin_service_pb2 as admin_pb
from duckdb_spawn.v1 import admin_service_pb2_grpc as admin_grpc
from duckdb_spawn.v1 import monitoring_service_pb2 as monitoring_pb
from duckdb_spawn.v1 import monitoring_service_pb2_grpc as monitoring_grpc
from duckdb_spawn.v1 import project_service_pb2 as pb
from duckdb_spawn.v1 import project_service_pb2_grpc as project_grpc
from google.protobuf import field_mask_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc

from . import bulk, convert, models
from .connection import ConnectionSettings
from .errors import DuckdbSpawnError, from_rpc_error
from .retry import RetryHook, RetryPolicy
from .summaries import Aggregation
from .values import AttributeCodec, encode_attributes, python_decoders
from .watch import ChangeStream

T = TypeVar("T")

DEFAULT_TIMEOUT = 30.0
# A filter no project matches: an export with it is just the Arrow schema of the projects table.
_NOTHING = "create_time < 1970-01-01T00:00:00Z"
# At most this often, an attribute the decoder does not know makes it ask the server again.
_CODEC_REFRESH_SECONDS = 10.0
_IMPORT_MODES = {"atomic": pb.IMPORT_MODE_ATOMIC, "best_effort": pb.IMPORT_MODE_BEST_EFFORT,
                 "best-effort": pb.IMPORT_MODE_BEST_EFFORT}


def project_name(name_or_id: str | uuid.UUID) -> str:
    """`projects/{uuid}` from a name or a bare id."""
    text = str(name_or_id)
    return text if text.startswith("projects/") else f"projects/{text}"


def table_name(name: str) -> str:
    return name if name.startswith("tables/") else f"tables/{name}"


def schema_name(name: str) -> str:
    return name if name.startswith("schemas/") else f"schemas/{name}"


class Client:
    """A connection to one duckdb-spawn server. Thread-safe; close it (or use `with`) when done."""

    def __init__(self, target: str | None = None, *, token: str | None = None, tls: bool | None = None,
                 ca_file: str | None = None, cert_file: str | None = None, key_file: str | None = None,
                 server_name: str | None = None, timeout: float | None = DEFAULT_TIMEOUT,
                 retry: RetryPolicy | None = None, on_retry: RetryHook | None = None,
                 attribute_types: Mapping[str, type] | None = None,
                 settings: ConnectionSettings | None = None) -> None:
        self.settings = (settings or ConnectionSettings()).with_overrides(
            target=target, token=token, tls=tls, ca_file=ca_file, cert_file=cert_file, key_file=key_file,
            server_name=server_name)
        self.timeout = timeout
        self.retry = retry or RetryPolicy()
        self.on_retry = on_retry
        self._attribute_types = dict(attribute_types or {})
        python_decoders(self._attribute_types)  # fail fast on an unsupported type
        self._channel = self.settings.open_channel()
        self._metadata = self.settings.metadata()
        self._projects = project_grpc.ProjectServiceStub(self._channel)
        self._admin = admin_grpc.AdminServiceStub(self._channel)
        self._monitoring = monitoring_grpc.MonitoringServiceStub(self._channel)
        self._health = health_pb2_grpc.HealthStub(self._channel)
        self._codec_lock = threading.Lock()
        self._codec: AttributeCodec | None = None
        self._codec_time = 0.0
        self._arrow_schema: pa.Schema | None = None

    @classmethod
    def from_env(cls, **options: Any) -> Client:
        """Settings from DUCKDB_SPAWN_* environment variables (see connection.ENVIRONMENT), then `options`."""
        return cls(settings=ConnectionSettings.from_env(), **options)

    def close(self) -> None:
        self._channel.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- plumbing -------------------------------------------------------------------

    def _deadline(self, timeout: float | None, default: float | None) -> float | None:
        seconds = timeout if timeout is not None else default
        return None if seconds is None else time.monotonic() + seconds

    def _call(self, method: Callable[..., T], request: Any, timeout: float | None, retry: bool = True) -> T:
        """A unary call with deadline, credentials, retry of UNAVAILABLE and decoded errors."""

        def attempt(remaining: float | None) -> T:
            try:
                return method(request, timeout=remaining, metadata=self._metadata)
            except grpc.RpcError as error:
                raise from_rpc_error(error) from error

        policy = self.retry if retry else RetryPolicy(max_attempts=1)
        return policy.run(attempt, self._deadline(timeout, self.timeout), self.on_retry)

    @staticmethod
    def _request_id(request_id: str | uuid.UUID | None) -> str:
        return str(request_id) if request_id else str(uuid.uuid4())

    # -- attribute types ------------------------------------------------------------

    def arrow_schema(self, *, refresh: bool = False, timeout: float | None = None) -> pa.Schema:
        """The projects table's columns as an Arrow schema, as the server exports them.

        It comes from an export that matches nothing (the Arrow IPC stream of
        an empty result still holds its schema), so any caller who may read
        projects may ask, and it always reflects the schema in force.
        """
        if self._arrow_schema is None or refresh:
            data = b"".join(chunk for chunk, _ in self.export_projects(format="arrow", filter=_NOTHING,
                                                                       timeout=timeout or self.timeout))
            self._arrow_schema = pa.ipc.open_stream(data).schema
        return self._arrow_schema

    def _codec_for(self, names: Iterable[str]) -> AttributeCodec:
        """The decoder of attribute values, refreshed once when a project shows an unknown column."""
        with self._codec_lock:
            codec = self._codec
            if codec is not None and (all(codec.knows(n) for n in names)
                                      or time.monotonic() - self._codec_time < _CODEC_REFRESH_SECONDS):
                return codec
            self._codec_time = time.monotonic()
            try:
                schema = self.arrow_schema(refresh=codec is not None)
                codec = AttributeCodec.from_arrow_schema(schema, self._attribute_types)
            except DuckdbSpawnError:
                # No read access to exports (or an old server): decode only what the caller declared.
                codec = AttributeCodec(python_decoders(self._attribute_types))
            self._codec = codec
            return codec

    def _project(self, message: pb.Project) -> models.Project:
        return convert.project(message, self._codec_for(message.attributes.keys()))

    # -- ProjectService -------------------------------------------------------------

    def create_project(self, attributes: Mapping[str, Any], *, project_id: str | uuid.UUID | None = None,
                       request_id: str | uuid.UUID | None = None, timeout: float | None = None) -> models.Project:
        request = pb.CreateProjectRequest(project_id=str(project_id or ""), request_id=self._request_id(request_id))
        request.project.attributes.update(encode_attributes(attributes))
        return self._project(self._call(self._projects.CreateProject, request, timeout))

    def get_project(self, name: str | uuid.UUID, *, read_time: datetime | None = None,
                    timeout: float | None = None) -> models.Project:
        """The project; with `read_time`, as it was then (also if it has been deleted since)."""
        request = pb.GetProjectRequest(name=project_name(name))
        _set_time(request, "read_time", read_time)
        return self._project(self._call(self._projects.GetProject, request, timeout))

    def list_projects(self, *, page_size: int = 0, page_token: str = "", filter: str = "", order_by: str = "",
                      read_time: datetime | None = None, timeout: float | None = None) -> models.ProjectPage:
        """One page; see `iter_projects` to walk them all. Every page of a listing reads one snapshot (the
        first page's, at `read_time` or now), whose change-log position is the page's `read_position`."""
        request = pb.ListProjectsRequest(page_size=page_size, page_token=page_token, filter=filter, order_by=order_by)
        _set_time(request, "read_time", read_time)
        response = self._call(self._projects.ListProjects, request, timeout)
        return models.ProjectPage([self._project(p) for p in response.projects], response.next_page_token,
                                  response.total_size, response.read_position)

    def iter_pages(self, *, page_size: int = 0, filter: str = "", order_by: str = "",
                   read_time: datetime | None = None, timeout: float | None = None) -> Iterator[models.ProjectPage]:
        """Every page of a listing; `timeout` applies to each page's call (retries included)."""
        token = ""
        while True:
            page = self.list_projects(page_size=page_size, page_token=token, filter=filter, order_by=order_by,
                                      read_time=read_time, timeout=timeout)
            yield page
            token = page.next_page_token
            if not token:
                return

    def iter_projects(self, *, page_size: int = 0, filter: str = "", order_by: str = "",
                      read_time: datetime | None = None, timeout: float | None = None) -> Iterator[models.Project]:
        """Every project matching `filter`, in `order_by` order, fetched a page at a time."""
        for page in self.iter_pages(page_size=page_size, filter=filter, order_by=order_by, read_time=read_time,
                                    timeout=timeout):
            yield from page.projects

    def update_project(self, name: str | uuid.UUID, attributes: Mapping[str, Any], *,
                       update_mask: Sequence[str] | None = None, etag: str = "",
                       request_id: str | uuid.UUID | None = None, timeout: float | None = None) -> models.Project:
        """Changes attributes. `update_mask` lists fields (`status` or `attributes.status`); a field in the
        mask but not in `attributes` is cleared; `["*"]` replaces every attribute. Without a mask only the
        given attributes change. With `etag` the update applies only if the project is unchanged."""
        request = pb.UpdateProjectRequest(request_id=self._request_id(request_id))
        request.project.name = project_name(name)
        request.project.etag = etag
        request.project.attributes.update(encode_attributes(attributes))
        if update_mask is not None:
            request.update_mask.CopyFrom(field_mask_pb2.FieldMask(paths=[_mask_path(p) for p in update_mask]))
        return self._project(self._call(self._projects.UpdateProject, request, timeout))

    def delete_project(self, name: str | uuid.UUID, *, etag: str = "", timeout: float | None = None) -> None:
        self._call(self._projects.DeleteProject, pb.DeleteProjectRequest(name=project_name(name), etag=etag),
                   timeout)

    def batch_create_projects(self, projects: Sequence[Mapping[str, Any]], *,
                              project_ids: Sequence[str | uuid.UUID | None] | None = None,
                              request_id: str | uuid.UUID | None = None,
                              timeout: float | None = None) -> list[models.Project]:
        """Creates up to 1,000 projects atomically: all of them or none."""
        ids = list(project_ids) if project_ids is not None else [None] * len(projects)
        if len(ids) != len(projects):
            raise ValueError("project_ids must have one entry per project")
        request = pb.BatchCreateProjectsRequest(request_id=self._request_id(request_id))
        for attributes, project_id in zip(projects, ids, strict=True):
            item = request.requests.add(project_id=str(project_id or ""))
            item.project.attributes.update(encode_attributes(attributes))
        response = self._call(self._projects.BatchCreateProjects, request, timeout)
        return [self._project(p) for p in response.projects]

    def initialize_database(self, *, timeout: float | None = None) -> list[models.TableInitialization]:
        response = self._call(self._projects.InitializeDatabase, pb.InitializeDatabaseRequest(), timeout)
        return [models.TableInitialization(t.table, t.created) for t in response.tables]

    def summarize_projects(self, *, aggregations: Sequence[Aggregation | str], group_by: Sequence[str] = (),
                           filter: str = "", read_time: datetime | None = None,
                           timeout: float | None = None) -> models.Summary:
        """Group-by aggregates. Aggregations as objects or strings: `count`, `sum:total_amount`,
        `avg:dscr`, `p95:total_amount`, `max:maturity_years as longest`."""
        specs = [a if isinstance(a, Aggregation) else Aggregation.parse(a) for a in aggregations]
        request = pb.SummarizeProjectsRequest(filter=filter, group_by=list(group_by),
                                              aggregations=[a.to_proto() for a in specs])
        _set_time(request, "read_time", read_time)
        return convert.summary(self._call(self._projects.SummarizeProjects, request, timeout))

    # -- the change feed ------------------------------------------------------------

    def list_changes(self, *, start_position: str = "", start_time: datetime | None = None, page_size: int = 0,
                     page_token: str = "", timeout: float | None = None) -> models.ChangePage:
        """One page of the changes after `start_position` (a position or read_position the server gave),
        else after `start_time`, else from the oldest change retained; oldest first. A position older
        than the retention raises FailedPreconditionError with reason CHANGE_POSITION_EXPIRED."""
        request = pb.ListProjectChangesRequest(start_position=start_position, page_size=page_size,
                                               page_token=page_token)
        _set_time(request, "start_time", start_time)
        response = self._call(self._projects.ListProjectChanges, request, timeout)
        return models.ChangePage([self._change(c) for c in response.changes], response.next_page_token,
                                 response.position)

    def iter_change_pages(self, *, start_position: str = "", start_time: datetime | None = None,
                          page_size: int = 0, timeout: float | None = None) -> Iterator[models.ChangePage]:
        """Every page of changes up to the latest; the last page's `position` is where to list or watch on."""
        token = ""
        while True:
            page = self.list_changes(start_position="" if token else start_position,
                                     start_time=None if token else start_time, page_size=page_size,
                                     page_token=token, timeout=timeout)
            yield page
            token = page.next_page_token
            if not token:
                return

    def iter_changes(self, *, start_position: str = "", start_time: datetime | None = None, page_size: int = 0,
                     timeout: float | None = None) -> Iterator[models.ProjectChange]:
        """Every change after the start, up to the latest, fetched a page at a time."""
        for page in self.iter_change_pages(start_position=start_position, start_time=start_time,
                                           page_size=page_size, timeout=timeout):
            yield from page.changes

    def watch(self, *, start_position: str = "", start_time: datetime | None = None,
              progress_interval: timedelta | float | None = None, progress: bool = False,
              retry: RetryPolicy | None = None, timeout: float | None = None) -> ChangeStream:
        """Follows the changes as they commit: after `start_position`, else after `start_time`, else from now.

        Returns a `ChangeStream` (see watch.py), connected already: iterate it for `ProjectChange`s
        in position order, each once, also across server restarts (it calls again from its last
        position after UNAVAILABLE, with `retry`'s backoff, the client's policy by default). With
        `progress`, it also yields a `WatchProgress` whenever the server reports that nothing
        changed for `progress_interval` (the server's default: 5 s). `stream.position` is always a
        position to resume from. `timeout` bounds each (re)connection, retries included (the
        client's timeout by default); the stream itself has no deadline. `close()` it (or use `with`).
        """
        request = pb.WatchProjectsRequest(start_position=start_position)
        _set_time(request, "start_time", start_time)
        if progress_interval is not None:
            seconds = (progress_interval.total_seconds() if isinstance(progress_interval, timedelta)
                       else float(progress_interval))
            request.progress_interval.FromTimedelta(timedelta(seconds=seconds))
        return ChangeStream(lambda r: self._projects.WatchProjects(r, metadata=self._metadata), request,
                            self._change, policy=retry or self.retry,
                            timeout=timeout if timeout is not None else self.timeout, on_retry=self.on_retry,
                            progress=progress)

    def _change(self, message: pb.ProjectChange) -> models.ProjectChange:
        return convert.change(message, self._codec_for(message.project.attributes.keys()))

    # -- bulk -----------------------------------------------------------------------

    def import_file(self, path: str | Path, *, format: str | None = None, mode: str = "atomic",
                    batch_rows: int = bulk.DEFAULT_BATCH_ROWS, request_id: str | uuid.UUID | None = None,
                    progress: bulk.ProgressCallback | None = None,
                    timeout: float | None = None) -> models.ImportResult:
        """Streams a CSV, Parquet, JSON-lines or Arrow IPC file into ImportProjects, a batch at a time."""
        kind = bulk.detect_format(path, format)
        column_types = {f.name: f.type for f in self.arrow_schema()} if kind == "csv" else None
        return self._import(bulk.file_source(path, kind, column_types, batch_rows), mode, request_id, progress,
                            timeout)

    def import_table(self, data: pa.Table | pa.RecordBatchReader | Iterable[pa.RecordBatch], *,
                     mode: str = "atomic", batch_rows: int = bulk.DEFAULT_BATCH_ROWS,
                     request_id: str | uuid.UUID | None = None, progress: bulk.ProgressCallback | None = None,
                     timeout: float | None = None) -> models.ImportResult:
        """Streams a pyarrow Table (or record batches) whose columns are ontology field names."""
        return self._import(bulk.table_source(data, batch_rows), mode, request_id, progress, timeout)

    def import_rows(self, rows: Iterable[Mapping[str, Any]], *, mode: str = "atomic",
                    batch_rows: int = bulk.DEFAULT_BATCH_ROWS, request_id: str | uuid.UUID | None = None,
                    progress: bulk.ProgressCallback | None = None,
                    timeout: float | None = None) -> models.ImportResult:
        """Streams attribute dicts (any iterable, consumed lazily) as Struct rows."""
        return self._import(bulk.rows_source(rows, batch_rows), mode, request_id, progress, timeout)

    def _import(self, source: bulk.ImportSource, mode: str, request_id: str | uuid.UUID | None,
                progress: bulk.ProgressCallback | None, timeout: float | None) -> models.ImportResult:
        if mode not in _IMPORT_MODES:
            raise ValueError(f"mode must be one of {sorted(set(_IMPORT_MODES) - {'best-effort'})}")
        options = pb.ImportProjectsRequest(mode=_IMPORT_MODES[mode], request_id=self._request_id(request_id))

        def attempt(remaining: float | None) -> pb.ImportProjectsResponse:
            return _ImportStream(self._projects.ImportProjects, options, source, progress).run(
                remaining, self._metadata)

        policy = self.retry if source.repeatable else RetryPolicy(max_attempts=1)
        return convert.import_result(policy.run(attempt, self._deadline(timeout, None), self.on_retry))

    def export_projects(self, *, format: str = "arrow", filter: str = "", order_by: str = "",
                        read_time: datetime | None = None, timeout: float | None = None) -> ExportChunks:
        """The export's chunks as (bytes, rows completed by them); concatenated, one file.

        Retried on UNAVAILABLE only until the first chunk has arrived, which also sets the
        iterator's `read_position` (the change-log position of the snapshot exported).
        """
        if format not in bulk.EXPORT_FORMATS:
            raise ValueError(f"format must be one of {', '.join(bulk.EXPORT_FORMATS)}")
        request = pb.ExportProjectsRequest(format=bulk.EXPORT_FORMATS[format], filter=filter, order_by=order_by)
        _set_time(request, "read_time", read_time)
        return ExportChunks(lambda into: self._export_chunks(request, timeout, into))

    def _export_chunks(self, request: pb.ExportProjectsRequest, timeout: float | None,
                       into: ExportChunks) -> Iterator[tuple[bytes, int]]:
        deadline = self._deadline(timeout, None)

        def first(remaining: float | None) -> tuple[Any, pb.ExportProjectsResponse | None]:
            stream = self._projects.ExportProjects(request, timeout=remaining, metadata=self._metadata)
            try:
                return stream, next(stream, None)
            except grpc.RpcError as error:
                raise from_rpc_error(error) from error

        stream, head = self.retry.run(first, deadline, self.on_retry)
        if head is None:
            return
        into.read_position = head.read_position
        yield head.data, head.row_count
        try:
            for response in stream:
                yield response.data, response.row_count
        except grpc.RpcError as error:
            raise from_rpc_error(error) from error
        finally:
            stream.cancel()

    def export_to_file(self, path: str | Path, *, format: str | None = None, filter: str = "",
                       order_by: str = "", read_time: datetime | None = None,
                       progress: bulk.ProgressCallback | None = None,
                       timeout: float | None = None) -> models.ExportResult:
        """Writes an export to `path` (format from its suffix unless given); the file appears only when complete."""
        kind = bulk.detect_format(path, format)
        total = (self.list_projects(page_size=1, filter=filter, read_time=read_time).total_size
                 if progress is not None else None)

        def report(rows: int, size: int) -> None:
            if progress is not None:
                progress(bulk.Progress(rows, rows, total, "rows"))

        chunks = self.export_projects(format=kind, filter=filter, order_by=order_by, read_time=read_time,
                                      timeout=timeout)
        rows, size = bulk.write_chunks(path, chunks, report)
        return models.ExportResult(str(path), kind, rows, size, chunks.read_position)

    # -- AdminService ---------------------------------------------------------------

    def create_tables(self, *, timeout: float | None = None) -> list[models.TableInitialization]:
        response = self._call(self._admin.CreateTables, admin_pb.CreateTablesRequest(), timeout)
        return [models.TableInitialization(r.table, r.created) for r in response.results]

    def list_tables(self, *, page_size: int = 0, timeout: float | None = None) -> list[models.Table]:
        """Every hosted table (walking the pages)."""
        tables, token = [], ""
        while True:
            response = self._call(self._admin.ListTables,
                                  admin_pb.ListTablesRequest(page_size=page_size, page_token=token), timeout)
            tables += [convert.table(t) for t in response.tables]
            token = response.next_page_token
            if not token:
                return tables

    def get_table(self, name: str, *, timeout: float | None = None) -> models.Table:
        return convert.table(self._call(self._admin.GetTable, admin_pb.GetTableRequest(name=table_name(name)),
                                        timeout))

    def update_table(self, name: str, *, schema_json: str = "", dry_run: bool = False, force: bool = False,
                     timeout: float | None = None) -> models.TableUpdate:
        request = admin_pb.UpdateTableRequest(name=table_name(name), schema_json=schema_json, dry_run=dry_run,
                                              force=force)
        return convert.table_update(self._call(self._admin.UpdateTable, request, timeout))

    def delete_table(self, name: str, *, force: bool = False, timeout: float | None = None) -> None:
        self._call(self._admin.DeleteTable, admin_pb.DeleteTableRequest(name=table_name(name), force=force), timeout)

    def refresh_schemas(self, names: Sequence[str] = (), *,
                        timeout: float | None = None) -> list[models.SchemaRefresh]:
        request = admin_pb.RefreshSchemasRequest(names=[schema_name(n) for n in names])
        return [convert.schema_refresh(r) for r in self._call(self._admin.RefreshSchemas, request, timeout).results]

    def get_schema(self, name: str, *, timeout: float | None = None) -> models.Schema:
        return convert.schema(self._call(self._admin.GetSchema, admin_pb.GetSchemaRequest(name=schema_name(name)),
                                         timeout))

    def get_log_level(self, *, timeout: float | None = None) -> str:
        return self._call(self._admin.GetLogLevel, admin_pb.GetLogLevelRequest(), timeout).level

    def set_log_level(self, level: str, *, timeout: float | None = None) -> str:
        return self._call(self._admin.SetLogLevel, admin_pb.SetLogLevelRequest(level=level), timeout).level

    # -- MonitoringService and grpc.health.v1 ------------------------------------------

    def get_health(self, *, timeout: float | None = None) -> models.Health:
        return convert.health(self._call(self._monitoring.GetHealth, monitoring_pb.GetHealthRequest(), timeout))

    def get_system_metrics(self, *, cpu_interval: timedelta | float | None = None,
                           timeout: float | None = None) -> models.SystemMetrics:
        request = monitoring_pb.GetSystemMetricsRequest()
        if cpu_interval is not None:
            seconds = cpu_interval.total_seconds() if isinstance(cpu_interval, timedelta) else float(cpu_interval)
            request.cpu_interval.FromTimedelta(timedelta(seconds=seconds))
        return convert.system_metrics(self._call(self._monitoring.GetSystemMetrics, request, timeout))

    def check_health(self, service: str = "", *, timeout: float | None = None) -> str:
        """The standard gRPC health status (`SERVING`, `NOT_SERVING`, ...); "" is readiness, "liveness" liveness.

        Not retried: a probe wants the answer of now.
        """
        response = self._call(self._health.Check, health_pb2.HealthCheckRequest(service=service), timeout,
                              retry=False)
        return health_pb2.HealthCheckResponse.ServingStatus.Name(response.status)


class ExportChunks(Iterator[tuple[bytes, int]]):
    """An export's chunks, fetched as they are iterated; `read_position` is set once the first arrives."""

    def __init__(self, chunks: Callable[[ExportChunks], Iterator[tuple[bytes, int]]]) -> None:
        self.read_position = ""
        self._chunks = chunks(self)

    def __next__(self) -> tuple[bytes, int]:
        return next(self._chunks)

    def close(self) -> None:
        self._chunks.close()


class _ImportStream:
    """One ImportProjects call fed from a source, in gRPC's sending thread.

    If reading the source fails (a CSV value of the wrong type, say), the
    call is cancelled *before* the stream would end, so the server never
    commits a partial import, and the reading error is raised to the caller
    instead of gRPC's generic "Exception iterating requests!".
    """

    def __init__(self, method: Any, options: pb.ImportProjectsRequest, source: bulk.ImportSource,
                 progress: bulk.ProgressCallback | None) -> None:
        self._method, self._options, self._source, self._progress = method, options, source, progress
        self._call: Any = None
        self._started = threading.Event()
        self._failure: Exception | None = None

    def _messages(self) -> Iterator[pb.ImportProjectsRequest]:
        yield self._options
        rows = 0
        try:
            for chunk in self._source.open():
                rows += chunk.rows
                yield chunk.message
                if self._progress is not None:
                    self._progress(bulk.Progress(rows, chunk.position, self._source.total, self._source.unit))
        except Exception as error:  # noqa: BLE001 - re-raised in the caller's thread by run()
            self._failure = error
            self._started.wait()
            self._call.cancel()

    def run(self, timeout: float | None, metadata: Any) -> pb.ImportProjectsResponse:
        self._call = self._method.future(self._messages(), timeout=timeout, metadata=metadata)
        self._started.set()
        try:
            return self._call.result()
        except (grpc.RpcError, grpc.FutureCancelledError) as error:
            if self._failure is not None:
                raise self._failure from None
            if isinstance(error, grpc.RpcError):
                raise from_rpc_error(error) from error
            raise


def _set_time(request: Any, field: str, value: datetime | None) -> None:
    if value is not None:
        getattr(request, field).CopyFrom(convert.to_timestamp(value))


def _mask_path(path: str) -> str:
    return path if path in ("*", "attributes") or path.startswith("attributes.") else f"attributes.{path}"


__all__ = ["Client", "ExportChunks", "project_name", "schema_name", "table_name"]
