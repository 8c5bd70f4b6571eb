"""The ports: what the use cases need from the world, as Protocols that storage and observability implement.

Nothing here has behaviour; each port says what it promises. DuckDB
implements the stores (storage/), the ontology cache the schema ports
(ontology/), Prometheus the metrics (observability/).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

import pyarrow as pa

from .migration import MigrationPlan, MigrationStep, TableState
from .queries import ExportFormat, ProjectQuery
from .records import ActiveSchema, ProjectRecord, ReadPosition, StoredPage
from .request_ids import LogEntry, LoggedRequest
from .schema import TableSchema
from .schema_registry import RefreshReport, SchemaCacheStatus, SchemaInfo
from .summaries import Summary, SummaryPlan
from .tables import TableCreation


# -- schemas ------------------------------------------------------------------------------
class SchemaProvider(Protocol):
    def active(self, schema_id: str, *, timeout: float | None = None) -> ActiveSchema:
        """The schema in force; raises Unavailable when none was ever obtained."""
        ...


class SchemaRegistry(Protocol):
    def hosted_ids(self) -> tuple[str, ...]: ...

    def describe(self, schema_id: str) -> SchemaInfo:
        """The schema in force for `schema_id`; NotFound if not hosted, Unavailable if none yet."""
        ...

    def refresh(self, schema_ids: Sequence[str], *, timeout: float | None = None) -> list[RefreshReport]:
        """Fetches now (bypassing the circuit breaker's wait) and reports what changed."""
        ...

    def status(self) -> SchemaCacheStatus: ...


# -- projects -----------------------------------------------------------------------------
class IdempotencyLog(Protocol):
    def find_request(self, request_id: str, not_before: datetime) -> LoggedRequest | None:
        """The entry for `request_id` created at or after `not_before`, or None."""
        ...


@dataclass(frozen=True)
class ImportStamp:
    """What every imported row shares: its create/update time and schema version."""

    now: datetime
    schema_version: str


class ImportSpool(Protocol):
    """Storage's staging area for one import (see storage/import_spool.py)."""

    @property
    def rows(self) -> int: ...

    def append(self, table: pa.Table) -> None: ...

    def commit(self, stamp: ImportStamp, log: LogEntry | None, timeout: float | None) -> int:
        """Inserts every spooled row in one transaction; raises RequestReplayed if the id is logged."""
        ...

    def close(self) -> None: ...


class ProjectStore(IdempotencyLog, Protocol):
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

    def get(self, schema: TableSchema, project_id: uuid.UUID, at: int | None = None) -> ProjectRecord | None:
        """The record as it is, or (`at`) as it was at that change-log position."""
        ...

    def peek(self, schema: TableSchema, project_id: uuid.UUID) -> ProjectRecord | None:
        """The record if storage holds it in memory, coherent with every committed write; never waits."""
        ...

    def list_page(self, schema: TableSchema, query: ProjectQuery, page_size: int,
                  after: tuple[object, ...] | None, at: int | None = None) -> StoredPage:
        """Up to `page_size` matches of `query` strictly after the key values `after` (`at`: as they were at
        that change-log position); the page says the position of the snapshot it read."""
        ...

    def peek_page(self, schema: TableSchema, query: ProjectQuery, page_size: int,
                  after: tuple[object, ...] | None, at: int | None = None) -> StoredPage | None:
        """The same page if storage has it at hand, coherent with every committed write; never waits."""
        ...

    def replace(self, schema: TableSchema, record: ProjectRecord, expected_etag: str, *,
                timeout: float | None, log: LogEntry | None = None) -> bool:
        """Overwrites the record if its stored etag is `expected_etag`; False otherwise."""
        ...

    def begin_import(self, schema: TableSchema) -> ImportSpool: ...

    def export(self, schema: TableSchema, query: ProjectQuery, export_format: ExportFormat, *,
               ordered: bool, at: int | None = None,
               read_position: ReadPosition | None = None) -> Iterator[tuple[bytes | memoryview, int]]:
        """The matching rows as consecutive chunks of one file: (bytes, rows the chunk completes).

        `ordered` False: in storage order, without sorting (the client asked for no order). `at`: as
        they were at that change-log position. `read_position` learns the snapshot's before the first chunk.
        """
        ...

    def summarize(self, schema: TableSchema, plan: SummaryPlan, at: int | None = None) -> Summary: ...

    def delete(self, schema: TableSchema, project_id: uuid.UUID, expected_etag: str | None, *,
               timeout: float | None) -> bool:
        """Deletes the row (if its etag matches, when given); False when nothing matched."""
        ...


class BulkMetrics(Protocol):
    """Counts bulk rows (observability/metrics.py DomainMetrics is one)."""

    def add_imported_rows(self, table: str, rows: int) -> None: ...

    def add_exported_rows(self, table: str, export_format: str, rows: int) -> None: ...


class NoBulkMetrics:
    def add_imported_rows(self, table: str, rows: int) -> None:
        pass

    def add_exported_rows(self, table: str, export_format: str, rows: int) -> None:
        pass


# -- tables -------------------------------------------------------------------------------
class TableStore(Protocol):
    def create(self, schema: TableSchema, timeout: float | None = None) -> TableCreation: ...

    def state(self, table: str) -> TableState | None: ...

    def apply(self, plan: MigrationPlan, steps: Sequence[MigrationStep], *,
              timeout: float | None = None) -> TableState: ...

    def drop(self, table: str, timeout: float | None = None) -> bool: ...

    def migrates_automatically(self) -> bool:
        """Whether this process applies the automatic (additive) migrations: always for a file; on a lake,
        only the leader, whose change every replica then finds in place."""
        ...


class TableMetrics(Protocol):
    def table_operation(self, operation: str, status: str) -> None: ...

    def table_created(self, ok: bool) -> None: ...


class NoTableMetrics:
    def table_operation(self, operation: str, status: str) -> None:
        pass

    def table_created(self, ok: bool) -> None:
        pass
