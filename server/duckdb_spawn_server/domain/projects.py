"""Projects: the use cases the gRPC servicer calls (create, read, list, update, delete, bulk).

`ProjectManager` validates attributes against the schema in force, fills
the server-managed columns and hands complete rows to the `ProjectStore`
port (storage/project_store.py implements it over DuckDB). Creation and
imports are use cases of their own (domain/creation.py, domain/imports.py),
built here from the same collaborators. Nothing here knows gRPC or SQL.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .changes import ChangeBatch, ChangeFeed, ChangePage
from .creation import Items, ProjectCreation
from .errors import Aborted, FailedPrecondition, NotFound
from .idempotency import EntryFor, Idempotency
from .imports import ImportChunk, ImportMode, ImportReport, ImportRun, Imports
from .limits import Limits
from .names import project_name
from .ordering import decode_position, encode_position, key_values
from .paging import PageCursor, decode_page_token, encode_page_token, query_fingerprint
from .ports import BulkMetrics, NoBulkMetrics, ProjectStore, SchemaProvider
from .queries import Catalogs, ExportFormat
from .records import (
    ActiveSchema,
    ProjectPage,
    ProjectRecord,
    ReadPosition,
    StoredPage,
    fill_system_columns,
    new_etag,
    utc_now,
)
from .request_ids import RequestKey
from .summaries import AggregationSpec, Summary, plan_summary

# Updates without an etag re-read and retry when they lose a race. A writer loses
# only to another writer's commit, and each of those commits once, so with up to
# this many concurrent writers of one project no update without an etag fails.
UPDATE_ATTEMPTS = 32


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
    metrics: BulkMetrics = field(default_factory=NoBulkMetrics)
    changes: ChangeFeed | None = None  # None: the change log is off (no read_time, no read positions)

    def __post_init__(self) -> None:
        requests = self.idempotency or Idempotency(self.store, clock=self.clock)
        self.idempotency = self.requests = requests
        self.creation = ProjectCreation(self.schemas, self.schema_id, self.store, self.requests, self.limits,
                                        self.clock)
        self.imports = Imports(self.schemas, self.schema_id, self.store, self.requests, self.limits, self.clock,
                               self.metrics)

    # -- create (domain/creation.py) ------------------------------------------------------
    def create(self, attributes: Mapping[str, Any], project_id: str = "", *, request: RequestKey | None = None,
               timeout: float | None = None) -> ProjectRecord:
        return self.creation.create(attributes, project_id, request=request, timeout=timeout)

    def start_create(self, attributes: Mapping[str, Any], project_id: str = "", *, request: RequestKey | None = None,
                     timeout: float | None = None) -> Future[list[ProjectRecord]]:
        return self.creation.start_create(attributes, project_id, request=request, timeout=timeout)

    def batch_create(self, items: Items, *, request: RequestKey | None = None,
                     timeout: float | None = None) -> list[ProjectRecord]:
        return self.creation.batch_create(items, request=request, timeout=timeout)

    def start_batch_create(self, items: Items, *, request: RequestKey | None = None,
                           timeout: float | None = None) -> Future[list[ProjectRecord]]:
        return self.creation.start_batch_create(items, request=request, timeout=timeout)

    # -- import (domain/imports.py) -------------------------------------------------------
    def import_rows(self, chunks: Iterable[ImportChunk | None], mode: ImportMode, *, request_id: str | None = None,
                    fingerprint: Callable[[], str] = lambda: "", timeout: float | None = None) -> ImportReport:
        return self.imports.run(chunks, mode, request_id=request_id, fingerprint=fingerprint, timeout=timeout)

    def begin_import(self, mode: ImportMode, *, request_id: str | None = None,
                     timeout: float | None = None) -> ImportRun:
        return self.imports.begin(mode, request_id=request_id, timeout=timeout)

    # -- read -----------------------------------------------------------------
    def get(self, project_id: uuid.UUID, *, read_time: datetime | None = None,
            timeout: float | None = None) -> ProjectRecord:
        active = self.schemas.active(self.schema_id, timeout=timeout)
        record = self.store.get(active.schema, project_id, self._at(read_time))
        if record is None:
            raise _not_found(project_id)
        return record

    def _at(self, read_time: datetime | None) -> int | None:
        """The change-log position a read at `read_time` reads (None: now)."""
        if read_time is None:
            return None
        if self.changes is None:
            raise FailedPrecondition("read_time needs the change log, which is off on this server (CHANGE_LOG)",
                                     reason="CHANGE_LOG_DISABLED")
        return self.changes.position_at(read_time)

    def read_position(self, position: int | None) -> str:
        return "" if position is None or self.changes is None else self.changes.token(position)

    def peek(self, project_id: uuid.UUID) -> ProjectRecord | None:
        """The project if storage has it at hand (never waits); None means "ask `get`", not "absent"."""
        active = self.schemas.active(self.schema_id, timeout=0)
        return self.store.peek(active.schema, project_id)

    def list(self, page_size: int, page_token: str = "", *, filter_text: str = "", order_by: str = "",
             read_time: datetime | None = None, timeout: float | None = None) -> ProjectPage:
        """A page of the projects matching `filter_text` in `order_by` order (keyset pagination).

        The page token carries the last row's sort-key values and a
        fingerprint of the filter and ordering, so it cannot be reused with
        another query.
        """
        page = self._page(page_size, page_token, filter_text, order_by, timeout, self.store.list_page, read_time)
        assert page is not None
        return page

    def peek_list(self, page_size: int, page_token: str = "", *, filter_text: str = "",
                  order_by: str = "") -> ProjectPage | None:
        """The page if storage has it at hand (never waits on the database); None: ask `list`."""
        return self._page(page_size, page_token, filter_text, order_by, 0, self.store.peek_page, None)

    def _page(self, page_size: int, page_token: str, filter_text: str, order_by: str, timeout: float | None,
              fetch: Callable[..., StoredPage | None], read_time: datetime | None) -> ProjectPage | None:
        size = self.limits.page_size(page_size)
        self._check_query(filter_text, order_by)
        active = self.schemas.active(self.schema_id, timeout=timeout)
        query = self.catalogs.query(active.schema, filter_text, order_by)
        fingerprint = query_fingerprint("projects", filter_text, order_by)
        cursor = decode_page_token(page_token, fingerprint)
        after = decode_position(query.ordering, cursor.position) if cursor else None
        # Later pages read the first page's snapshot: the listing is one consistent state.
        at = cursor.snapshot if cursor is not None and cursor.snapshot is not None else None
        if at is None and read_time is not None:
            at = self._at(read_time)
        page = fetch(active.schema, query, size, after, at)
        if page is None:
            return None
        snapshot = at if at is not None else page.position
        token = ""
        if page.has_more and page.records:
            position = encode_position(key_values(query.ordering, page.records[-1]))
            token = encode_page_token(PageCursor(query=fingerprint, position=position, snapshot=snapshot))
        return ProjectPage(page.records, token, page.total_size, self.read_position(snapshot))

    def export(self, export_format: ExportFormat, filter_text: str = "", order_by: str = "", *,
               read_time: datetime | None = None, read_position: ReadPosition | None = None,
               timeout: float | None = None) -> Iterator[tuple[bytes | memoryview, int]]:
        """The matching projects as one file in `export_format`, in chunks (bytes, rows completed).

        The query is checked before the first chunk, so a bad filter fails
        the call instead of truncating a stream. Without `order_by` the rows
        come in storage order, unsorted, so the first chunk leaves at once.
        """
        self._check_query(filter_text, order_by)
        active = self.schemas.active(self.schema_id, timeout=timeout)
        query = self.catalogs.query(active.schema, filter_text, order_by)
        chunks = self.store.export(active.schema, query, export_format, ordered=bool(order_by.strip()),
                                   at=self._at(read_time), read_position=read_position)
        return self._count_exported(chunks, active.schema.table_name, export_format)

    def _check_query(self, filter_text: str, order_by: str) -> None:
        if filter_text:
            self.limits.check_filter(filter_text)
        if order_by:
            self.limits.check_order_by(order_by)

    def _count_exported(self, chunks: Iterator[tuple[bytes | memoryview, int]], table: str,
                        export_format: ExportFormat) -> Iterator[tuple[bytes | memoryview, int]]:
        for data, rows in chunks:
            if rows:
                self.metrics.add_exported_rows(table, export_format.value, rows)
            yield data, rows

    def summarize(self, filter_text: str, group_by: Sequence[str], aggregations: Sequence[AggregationSpec], *,
                  read_time: datetime | None = None, timeout: float | None = None) -> Summary:
        self._check_query(filter_text, "")
        active = self.schemas.active(self.schema_id, timeout=timeout)
        plan = plan_summary(self.catalogs.for_schema(active.schema), filter_text, group_by, aggregations)
        return self.store.summarize(active.schema, plan, self._at(read_time))

    # -- the change feed (domain/changes.py) --------------------------------------------------
    def feed(self) -> ChangeFeed:
        if self.changes is None:
            raise FailedPrecondition("the change log is off on this server (CHANGE_LOG)", reason="CHANGE_LOG_DISABLED")
        return self.changes

    def list_changes(self, start_position: str = "", start_time: datetime | None = None, page_size: int = 0,
                     page_token: str = "", *, timeout: float | None = None) -> ChangePage:
        active = self.schemas.active(self.schema_id, timeout=timeout)
        return self.feed().list(active.schema, start_position, start_time, page_size, page_token)

    def watch_start(self, start_position: str = "", start_time: datetime | None = None) -> int:
        """Where a watch starts: after the token or time given, else at the latest change."""
        return self.feed().start(start_position, start_time, default_latest=True)

    def changes_after(self, position: int, limit: int, *, timeout: float | None = None) -> ChangeBatch:
        active = self.schemas.active(self.schema_id, timeout=timeout)
        return self.feed().read(active.schema, position, limit)

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

        def write(entry: EntryFor) -> ProjectRecord:
            for _ in range(UPDATE_ATTEMPTS):
                active = self.schemas.active(self.schema_id, timeout=timeout)
                current = self.store.get(active.schema, project_id)
                if current is None:
                    raise _not_found(project_id)
                if etag and etag != current.etag:
                    raise _stale_etag(project_id)
                record = self._merged(active, current, patch, replace_all)
                if self.store.replace(active.schema, record, current.etag, timeout=timeout,
                                      log=entry(record.to_json)):
                    return record
                if etag:
                    raise _stale_etag(project_id)
            raise Aborted("the project changed concurrently too often; retry",
                          reason="CONCURRENT_MODIFICATION", metadata={"project": project_name(project_id)})

        return self.requests.run(request, write, ProjectRecord.from_json)

    def _merged(self, active: ActiveSchema, current: ProjectRecord, patch: Mapping[str, Any],
                replace_all: bool) -> ProjectRecord:
        validator = active.validator
        # Stored values are typed; the validator accepts them as they are, so the
        # merged row is checked as a whole and every violation reported at once.
        base = {} if replace_all else {k: v for k, v in current.attributes.items() if validator.is_known(k)}
        merged = validator.validate_create({**base, **patch})
        now = self.clock()
        fill_system_columns(active.schema, merged, current.project_id, create_time=current.create_time,
                            update_time=now, previous=current.attributes)
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


def _not_found(project_id: uuid.UUID) -> NotFound:
    name = project_name(project_id)
    return NotFound(f"project {name} does not exist", resource_type="duckdbspawn.io/Project",
                    resource_name=name, reason="PROJECT_NOT_FOUND")


def _stale_etag(project_id: uuid.UUID) -> Aborted:
    return Aborted("the etag does not match the project's current etag; re-read and retry",
                   reason="ETAG_MISMATCH", metadata={"project": project_name(project_id)})
