"""Projects: the records, the ports storage implements, and the use cases.

`ProjectManager` is what the gRPC servicer calls. It validates attributes
against the schema in force, fills the server-managed columns, and hands
complete rows to a `ProjectStore` (storage/project_store.py), which commits
them through the group-commit writer. Nothing here knows gRPC or SQL.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

from .errors import Aborted, AlreadyExists, DeadlineExceeded, FieldViolation, InvalidArgument, NotFound
from .futures import settle, then
from .idempotency import Idempotency, LogEntry, LoggedRequest, RequestKey, RequestReplayed
from .limits import Limits
from .names import parse_uuid, project_name
from .ordering import decode_position, encode_position, key_values
from .paging import PageCursor, decode_page_token, encode_page_token, query_fingerprint
from .queries import Catalogs, ExportFormat, ProjectQuery
from .schema import ColumnRole, TableSchema
from .validation import AttributeValidator
from .values import format_timestamp, to_json_value

if TYPE_CHECKING:
    from .imports import ImportChunk, ImportMode, ImportReport, ImportRun, ImportSpool
    from .summaries import AggregationSpec, Summary, SummaryPlan

DEFAULT_PAGE_SIZE = 50
# Updates without an etag re-read and retry when they lose a race. A writer loses
# only to another writer's commit, and each of those commits once, so with up to
# this many concurrent writers of one project no update without an etag fails.
UPDATE_ATTEMPTS = 32


@dataclass(frozen=True)
class ActiveSchema:
    """The schema version in force for one schema id, with its compiled validator."""

    schema: TableSchema
    validator: AttributeValidator
    source: str = "mock"

    @classmethod
    def compile(cls, schema: TableSchema, source: str = "mock") -> ActiveSchema:
        return cls(schema=schema, validator=AttributeValidator(schema), source=source)


class SchemaProvider(Protocol):
    def active(self, schema_id: str, *, timeout: float | None = None) -> ActiveSchema:
        """The schema in force; raises Unavailable when none was ever obtained."""
        ...


class BulkMetrics(Protocol):
    """Counts bulk rows (observability/metrics.py DomainMetrics is one)."""

    def add_imported_rows(self, table: str, rows: int) -> None: ...

    def add_exported_rows(self, table: str, export_format: str, rows: int) -> None: ...


class _NoMetrics:
    def add_imported_rows(self, table: str, rows: int) -> None:
        pass

    def add_exported_rows(self, table: str, export_format: str, rows: int) -> None:
        pass


@dataclass(frozen=True)
class ProjectRecord:
    """A stored project: every ontology column (typed) plus bookkeeping."""

    project_id: uuid.UUID
    attributes: dict[str, Any]
    create_time: datetime
    update_time: datetime
    etag: str
    schema_version: str
    # The content hash of the schema the attributes are typed and named by (what a client is shown
    # for this etag can change with a migration); "" when not known (a replayed outcome).
    shape: str = field(default="", compare=False)

    @property
    def name(self) -> str:
        return project_name(self.project_id)

    def to_json(self) -> dict[str, Any]:
        """The record as the client saw it (attributes in their wire form), for the request log."""
        return {"id": str(self.project_id),
                "attributes": {k: to_json_value(v) for k, v in self.attributes.items()},
                "create_time": format_timestamp(self.create_time), "update_time": format_timestamp(self.update_time),
                "etag": self.etag, "schema_version": self.schema_version}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ProjectRecord:
        """A logged record; its attributes stay in wire form, which is all a replayed response needs."""
        return cls(uuid.UUID(data["id"]), dict(data["attributes"]), _parse_time(data["create_time"]),
                   _parse_time(data["update_time"]), data["etag"], data["schema_version"])


def _parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.removesuffix("Z"))


@dataclass(frozen=True)
class StoredPage:
    """What storage returns: the rows, whether more follow, the number of matches."""

    records: list[ProjectRecord]
    has_more: bool
    total_size: int


@dataclass(frozen=True)
class ProjectPage:
    records: list[ProjectRecord]
    next_page_token: str
    total_size: int


class ProjectStore(Protocol):
    """Persistence for projects; implemented over DuckDB in storage/.

    Writes that take a `log` entry commit it in the same transaction as
    their rows, and raise RequestReplayed instead of writing when its
    request id is already logged (domain/idempotency.py).
    """

    def insert(self, schema: TableSchema, records: Sequence[ProjectRecord], *,
               log: LogEntry | None = None) -> Future[None]:
        """Commits the records in one transaction, without waiting: the future resolves after the commit.

        It fails with the error that rejected the insert, or RequestReplayed
        when `log`'s request id was logged already (nothing was written).
        """
        ...

    def get(self, schema: TableSchema, project_id: uuid.UUID) -> ProjectRecord | None: ...

    def peek(self, schema: TableSchema, project_id: uuid.UUID) -> ProjectRecord | None:
        """The record if storage holds it in memory, coherent with every committed write; never waits."""
        ...

    def list_page(self, schema: TableSchema, query: ProjectQuery, page_size: int,
                  after: tuple[Any, ...] | None) -> StoredPage:
        """Up to `page_size` matches of `query` strictly after the key values `after`."""
        ...

    def peek_page(self, schema: TableSchema, query: ProjectQuery, page_size: int,
                  after: tuple[Any, ...] | None) -> StoredPage | None:
        """The same page if storage has it at hand, coherent with every committed write; never waits."""
        ...

    def replace(self, schema: TableSchema, record: ProjectRecord, expected_etag: str, *,
                timeout: float | None, log: LogEntry | None = None) -> bool:
        """Overwrites the record if its stored etag is `expected_etag`; False otherwise."""
        ...

    def find_request(self, request_id: str, not_before: datetime) -> LoggedRequest | None: ...

    def begin_import(self, schema: TableSchema) -> ImportSpool: ...

    def export(self, schema: TableSchema, query: ProjectQuery, export_format: ExportFormat, *,
               ordered: bool) -> Iterator[tuple[bytes, int]]:
        """The matching rows as consecutive chunks of one file: (bytes, rows the chunk completes).

        `ordered` False: in storage order, without sorting (the client asked for no order).
        """
        ...

    def summarize(self, schema: TableSchema, plan: SummaryPlan) -> Summary: ...

    def delete(self, schema: TableSchema, project_id: uuid.UUID, expected_etag: str | None, *,
               timeout: float | None) -> bool:
        """Deletes the row (if its etag matches, when given); False when nothing matched."""
        ...


def utc_now() -> datetime:
    """Naive UTC, microsecond precision: what TIMESTAMP columns store."""
    return datetime.now(UTC).replace(tzinfo=None)


def new_etag() -> str:
    return secrets.token_hex(8)


@dataclass
class ProjectManager:
    """The project use cases, independent of transport and storage."""

    schemas: SchemaProvider
    store: ProjectStore
    schema_id: str = "project_schema"
    idempotency: Idempotency | None = None
    catalogs: Catalogs = field(default_factory=Catalogs)
    limits: Limits = field(default_factory=Limits)
    clock: Callable[[], datetime] = utc_now
    metrics: BulkMetrics = field(default_factory=_NoMetrics)

    def __post_init__(self) -> None:
        if self.idempotency is None:
            self.idempotency = Idempotency(self.store, clock=self.clock)

    @property
    def requests(self) -> Idempotency:
        assert self.idempotency is not None
        return self.idempotency

    # -- create ---------------------------------------------------------------
    def create(self, attributes: Mapping[str, Any], project_id: str = "", *, request: RequestKey | None = None,
               timeout: float | None = None) -> ProjectRecord:
        stored = self.requests.stored_outcome(request)
        if stored is not None:
            return ProjectRecord.from_json(stored[0])
        return _wait(self.start_create(attributes, project_id, request=request, timeout=timeout), timeout)[0]

    def start_create(self, attributes: Mapping[str, Any], project_id: str = "", *, request: RequestKey | None = None,
                     timeout: float | None = None) -> Future[list[ProjectRecord]]:
        """Validates now and hands the row to storage; the future resolves once it committed.

        Never waits on the database, so an event loop may call it. Unlike
        `create`, it does not look for an earlier run of a request id first:
        the write itself finds it and the stored outcome is returned.
        """
        self.limits.check_attribute_values(attributes, "project.attributes")
        active = self.schemas.active(self.schema_id, timeout=timeout)
        record = self.build_new_record(active, attributes, project_id)
        return self._insert(active, [record], request)

    def batch_create(self, items: Sequence[tuple[Mapping[str, Any], str]], *, request: RequestKey | None = None,
                     timeout: float | None = None) -> list[ProjectRecord]:
        """Creates every project or none (AIP-233); violations name `requests[i]`."""
        self._check_batch_size(len(items))
        stored = self.requests.stored_outcome(request)
        if stored is not None:
            return [ProjectRecord.from_json(item) for item in stored]
        return _wait(self.start_batch_create(items, request=request, timeout=timeout), timeout)

    def start_batch_create(self, items: Sequence[tuple[Mapping[str, Any], str]], *,
                           request: RequestKey | None = None,
                           timeout: float | None = None) -> Future[list[ProjectRecord]]:
        from .batches import validate_batch

        self._check_batch_size(len(items))
        for index, (attributes, _) in enumerate(items):
            self.limits.check_attribute_values(attributes, f"requests[{index}].project.attributes")
        active = self.schemas.active(self.schema_id, timeout=timeout)
        return self._insert(active, validate_batch(self, active, items), request)

    def _check_batch_size(self, count: int) -> None:
        if not count:
            description = "must hold at least 1 request"
            raise InvalidArgument(f"requests {description}",
                                  violations=[FieldViolation("requests", description, "INVALID_BATCH_SIZE")],
                                  reason="INVALID_BATCH_SIZE")
        self.limits.check_batch(count)

    def _insert(self, active: ActiveSchema, records: list[ProjectRecord],
                request: RequestKey | None) -> Future[list[ProjectRecord]]:
        """One atomic insert, logged under the request id when there is one."""
        log = self.requests.entry(request, lambda: [r.to_json() for r in records])
        committed = self.store.insert(active.schema, records, log=log)
        if request is None:
            return then(committed, lambda _: records)
        replayed: Future[list[ProjectRecord]] = Future()

        def outcome(finished: Future[None]) -> None:
            error = finished.exception()
            try:
                if isinstance(error, RequestReplayed):
                    assert request is not None
                    stored = self.requests.check(request, error.logged)
                    settle(replayed, [ProjectRecord.from_json(item) for item in stored])
                elif error is not None:
                    settle(replayed, error=error)
                else:
                    settle(replayed, records)
            except BaseException as problem:  # noqa: BLE001 - handed to whoever waits
                settle(replayed, error=problem)

        committed.add_done_callback(outcome)
        return replayed

    def build_new_record(self, active: ActiveSchema, attributes: Mapping[str, Any], project_id: str = "",
                         *, prefix: str = "attributes.", id_field: str = "project_id") -> ProjectRecord:
        """Validates and completes one new row (used by create, batch and import)."""
        pid = self._parse_new_id(project_id, id_field) if project_id else uuid.uuid4()
        row = active.validator.validate_create(attributes, prefix=prefix)
        now = self.clock()
        _fill_system_columns(active.schema, row, pid, create_time=now, update_time=now)
        return ProjectRecord(pid, row, now, now, new_etag(), active.schema.version, active.schema.content_hash())

    def _parse_new_id(self, text: str, field_name: str) -> uuid.UUID:
        parsed = parse_uuid(text)
        if parsed is None:
            raise InvalidArgument(
                "project_id must be a UUID",
                violations=[FieldViolation(field_name, "must be a UUID such as "
                                           "123e4567-e89b-12d3-a456-426614174000", "INVALID_FORMAT")],
                reason="INVALID_PROJECT_ID")
        return parsed

    # -- read -----------------------------------------------------------------
    def get(self, project_id: uuid.UUID, *, timeout: float | None = None) -> ProjectRecord:
        active = self.schemas.active(self.schema_id, timeout=timeout)
        record = self.store.get(active.schema, project_id)
        if record is None:
            raise _not_found(project_id)
        return record

    def peek(self, project_id: uuid.UUID) -> ProjectRecord | None:
        """The project if storage has it at hand (never waits); None means "ask `get`", not "absent"."""
        active = self.schemas.active(self.schema_id, timeout=0)
        return self.store.peek(active.schema, project_id)

    def list(self, page_size: int, page_token: str = "", *, filter_text: str = "", order_by: str = "",
             timeout: float | None = None) -> ProjectPage:
        """A page of the projects matching `filter_text` in `order_by` order (keyset pagination).

        The page token carries the last row's sort-key values and a
        fingerprint of the filter and ordering, so it cannot be reused with
        another query.
        """
        page = self._page(page_size, page_token, filter_text, order_by, timeout, self.store.list_page)
        assert page is not None
        return page

    def peek_list(self, page_size: int, page_token: str = "", *, filter_text: str = "",
                  order_by: str = "") -> ProjectPage | None:
        """The page if storage has it at hand (never waits on the database); None: ask `list`."""
        return self._page(page_size, page_token, filter_text, order_by, 0, self.store.peek_page)

    def _page(self, page_size: int, page_token: str, filter_text: str, order_by: str, timeout: float | None,
              fetch: Callable[..., StoredPage | None]) -> ProjectPage | None:
        size = self.page_size(page_size)
        self._check_query(filter_text, order_by)
        active = self.schemas.active(self.schema_id, timeout=timeout)
        query = self.catalogs.query(active.schema, filter_text, order_by)
        fingerprint = query_fingerprint("projects", filter_text, order_by)
        cursor = decode_page_token(page_token, fingerprint)
        after = decode_position(query.ordering, cursor.position) if cursor else None
        page = fetch(active.schema, query, size, after)
        if page is None:
            return None
        token = ""
        if page.has_more and page.records:
            position = encode_position(key_values(query.ordering, page.records[-1]))
            token = encode_page_token(PageCursor(query=fingerprint, position=position))
        return ProjectPage(page.records, token, page.total_size)

    def export(self, export_format: ExportFormat, filter_text: str = "", order_by: str = "", *,
               timeout: float | None = None) -> Iterator[tuple[bytes, int]]:
        """The matching projects as one file in `export_format`, in chunks (bytes, rows completed).

        The query is checked before the first chunk, so a bad filter fails
        the call instead of truncating a stream. Without `order_by` the rows
        come in storage order, unsorted, so the first chunk leaves at once.
        """
        self._check_query(filter_text, order_by)
        active = self.schemas.active(self.schema_id, timeout=timeout)
        query = self.catalogs.query(active.schema, filter_text, order_by)
        chunks = self.store.export(active.schema, query, export_format, ordered=bool(order_by.strip()))
        return self._count_exported(chunks,
                                    active.schema.table_name, export_format)

    def page_size(self, requested: int) -> int:
        """AIP-158: 0 is the default, a negative size is invalid, a large one is served as the maximum."""
        if requested < 0:
            raise InvalidArgument(
                "page_size must not be negative",
                violations=[FieldViolation("page_size", "must be 0 (default) or positive", "INVALID_PAGE_SIZE")],
                reason="INVALID_PAGE_SIZE")
        return self.limits.page_size(requested) if requested else min(DEFAULT_PAGE_SIZE, self.limits.max_page_size)

    def _check_query(self, filter_text: str, order_by: str) -> None:
        if filter_text:
            self.limits.check_filter(filter_text)
        if order_by:
            self.limits.check_order_by(order_by)

    def _count_exported(self, chunks: Iterator[tuple[bytes, int]], table: str,
                        export_format: ExportFormat) -> Iterator[tuple[bytes, int]]:
        for data, rows in chunks:
            if rows:
                self.metrics.add_exported_rows(table, export_format.value, rows)
            yield data, rows

    def summarize(self, filter_text: str, group_by: Sequence[str], aggregations: Sequence[AggregationSpec], *,
                  timeout: float | None = None) -> Summary:
        from .summaries import plan_summary

        self._check_query(filter_text, "")
        active = self.schemas.active(self.schema_id, timeout=timeout)
        plan = plan_summary(self.catalogs.for_schema(active.schema), filter_text, group_by, aggregations)
        return self.store.summarize(active.schema, plan)

    def import_rows(self, chunks: Iterable[ImportChunk | None], mode: ImportMode, *, request_id: str | None = None,
                    fingerprint: Callable[[], str] = lambda: "", timeout: float | None = None) -> ImportReport:
        """Bulk load (see domain/imports.py); the fingerprint is read once the stream is consumed."""
        from .imports import run_import

        return run_import(self, chunks, mode, request_id=request_id, fingerprint=fingerprint, timeout=timeout)

    def begin_import(self, mode: ImportMode, *, request_id: str | None = None,
                     timeout: float | None = None) -> ImportRun:
        """An import fed message by message by a caller that reads the stream itself."""
        from .imports import ImportRun

        return ImportRun(self, mode, request_id, timeout)

    # -- update ---------------------------------------------------------------
    def update(self, project_id: uuid.UUID, patch: Mapping[str, Any], *, replace_all: bool = False,
               etag: str = "", request: RequestKey | None = None, timeout: float | None = None) -> ProjectRecord:
        """Merges `patch` into the stored attributes (or replaces them), re-validates, commits.

        With an etag the write is conditional (a mismatch is ABORTED); without
        one, a lost race is retried on a fresh read so no update is lost.
        A retry with the same request id returns the first result, even
        though its etag is stale by then.
        """
        self.limits.check_attribute_values(patch, "project.attributes")
        stored = self.requests.stored_outcome(request)
        if stored is not None:
            return ProjectRecord.from_json(stored)
        for _ in range(UPDATE_ATTEMPTS):
            active = self.schemas.active(self.schema_id, timeout=timeout)
            current = self.store.get(active.schema, project_id)
            if current is None:
                raise _not_found(project_id)
            if etag and etag != current.etag:
                raise _stale_etag(project_id)
            record = self._merged(active, current, patch, replace_all)
            try:
                replaced = self.store.replace(active.schema, record, current.etag, timeout=timeout,
                                              log=self.requests.entry(request, record.to_json))
            except RequestReplayed as replayed:
                assert request is not None
                return ProjectRecord.from_json(self.requests.check(request, replayed.logged))
            if replaced:
                return record
            if etag:
                raise _stale_etag(project_id)
        raise Aborted("the project changed concurrently too often; retry",
                      reason="CONCURRENT_MODIFICATION", metadata={"project": project_name(project_id)})

    def _merged(self, active: ActiveSchema, current: ProjectRecord, patch: Mapping[str, Any],
                replace_all: bool) -> ProjectRecord:
        validator = active.validator
        # Stored values are typed; the validator accepts them as they are, so the
        # merged row is checked as a whole and every violation reported at once.
        base = {} if replace_all else {k: v for k, v in current.attributes.items() if validator.is_known(k)}
        merged = validator.validate_create({**base, **patch})
        now = self.clock()
        _fill_system_columns(active.schema, merged, current.project_id,
                             create_time=current.create_time, update_time=now,
                             previous=current.attributes)
        return ProjectRecord(current.project_id, merged, current.create_time, now, new_etag(),
                             active.schema.version, active.schema.content_hash())

    # -- delete ---------------------------------------------------------------
    def delete(self, project_id: uuid.UUID, etag: str = "", *, timeout: float | None = None) -> None:
        active = self.schemas.active(self.schema_id, timeout=timeout)
        if self.store.delete(active.schema, project_id, etag or None, timeout=timeout):
            return
        if etag and self.store.get(active.schema, project_id) is not None:
            raise _stale_etag(project_id)
        raise _not_found(project_id)


def _wait(future: Future[Any], timeout: float | None) -> Any:
    try:
        return future.result(timeout=None if timeout is None else max(timeout, 0.0) + 30.0)
    except FutureTimeout:
        raise DeadlineExceeded("the deadline passed before the write committed; it may still commit",
                               reason="WRITE_DEADLINE_EXCEEDED") from None


def _fill_system_columns(schema: TableSchema, row: dict[str, Any], project_id: uuid.UUID, *,
                         create_time: datetime, update_time: datetime,
                         previous: Mapping[str, Any] | None = None) -> None:
    for column in schema.columns:
        if column.role is ColumnRole.ID:
            row[column.name] = project_id
        elif column.role is ColumnRole.CREATE_TIME:
            if previous is not None and previous.get(column.name) is not None:
                row[column.name] = previous[column.name]
            else:
                row[column.name] = _as_column_time(column.type.name, create_time)
        elif column.role is ColumnRole.UPDATE_TIME:
            row[column.name] = _as_column_time(column.type.name, update_time)


def _as_column_time(type_name: str, moment: datetime) -> Any:
    return moment.date() if type_name == "DATE" else moment


def _not_found(project_id: uuid.UUID) -> NotFound:
    name = project_name(project_id)
    return NotFound(f"project {name} does not exist", resource_type="duckdbspawn.io/Project",
                    resource_name=name, reason="PROJECT_NOT_FOUND")


def _stale_etag(project_id: uuid.UUID) -> Aborted:
    return Aborted("the etag does not match the project's current etag; re-read and retry",
                   reason="ETAG_MISMATCH", metadata={"project": project_name(project_id)})


__all__ = [
    "ActiveSchema", "AlreadyExists", "ProjectManager", "ProjectPage", "ProjectRecord", "ProjectStore",
    "SchemaProvider", "StoredPage",
]
