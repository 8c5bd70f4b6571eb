"""Projects in DuckDB: the `ProjectStore` port over the pool and the writer.

Reads borrow a pooled cursor; writes go through the group-commit writer.
All SQL text is built from quoted identifiers of a validated schema; every
value is a bound parameter or travels in an Arrow table.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any

import duckdb
import pyarrow as pa

from ..domain.changes import ChangeType
from ..domain.errors import AlreadyExists
from ..domain.futures import then
from ..domain.names import project_name
from ..domain.ordering import key_values
from ..domain.queries import ExportFormat, ProjectQuery
from ..domain.records import ProjectRecord, ReadPosition, StoredPage
from ..domain.request_ids import LogEntry, LoggedRequest, RequestReplayed
from ..domain.schema import TableSchema
from ..domain.summaries import Summary, SummaryPlan
from .arrow_rows import records_to_arrow
from .change_log import ChangeLog, DuckDBChangeStore, image_sql, record_from_row
from .coordination import LakeCoordinator
from .ddl import ETAG, SCHEMA_VERSION, UPDATE_TIME
from .disk_guard import DiskSpaceGuard
from .exports import export_chunks, remove_orphaned_pipes
from .idempotency_log import DuckDBIdempotencyLog, Replayed
from .import_spool import ImportSpool, remove_orphaned_spools
from .layouts import TableLayouts
from .pool import ConnectionPool
from .query_sql import SqlFragment, after_sql, order_sql, where_sql
from .record_cache import RecordCache
from .sql import first_row, quote_identifier
from .summaries import run_summary
from .writer import Execute, GroupCommitWriter, InsertRows, KeyCheck, WriteOp, insert_arrow, opaque_error

PREFETCH_ROWS = 1000
_DUPLICATE_KEY = re.compile(r'Duplicate key "[^":]*:\s*([0-9a-fA-F-]{36})')


class DuckDBProjectStore:
    def __init__(self, pool: ConnectionPool, writer: GroupCommitWriter, layouts: TableLayouts,
                 spool_dir: str | None = None, guard: DiskSpaceGuard | None = None,
                 cache: RecordCache | None = None, coordinator: LakeCoordinator | None = None,
                 changes: DuckDBChangeStore | None = None) -> None:
        self._pool = pool
        self._changes = changes  # None: the change log is off
        self._log: ChangeLog | None = changes.change_log if changes is not None else None
        self._coordinator = coordinator  # a lake's (storage/coordination.py)
        self._guard = guard
        self._cache = cache or RecordCache(0)
        self._writer = writer
        self._layouts = layouts
        self._requests = DuckDBIdempotencyLog(pool, writer)
        self._spool_dir = spool_dir
        self._builders: dict[tuple[str, tuple[str, ...]], Callable[[Sequence[ProjectRecord]], pa.Table]] = {}

    def prepare(self, timeout: float | None = None) -> None:
        """Creates the request log table; removes import spools and export pipes a crashed process left behind.

        Only one process can hold the database, so any spool beside it is an orphan.
        """
        self._requests.ensure_table(timeout)
        remove_orphaned_spools(self._spool_dir)
        remove_orphaned_pipes(self._spool_dir)

    def _arrow_builder(self, schema: TableSchema,
                       layout: tuple[str, ...]) -> Callable[[Sequence[ProjectRecord]], pa.Table]:
        """One converter per (schema version, table layout), so the writer can merge rows sharing it."""
        key = (schema.content_hash(), layout)
        builder = self._builders.get(key)
        if builder is None:
            builder = self._builders[key] = partial(records_to_arrow, schema, layout=layout)
        return builder

    def _key_check(self, schema: TableSchema) -> KeyCheck | None:
        if self._coordinator is None:
            return None  # the table's PRIMARY KEY refuses duplicates
        coordinator, table, column = self._coordinator, schema.table_name, schema.id_column.name
        return lambda con, rows: coordinator.claim(con, table, column, rows)

    # -- writes -----------------------------------------------------------------
    def insert(self, schema: TableSchema, records: Sequence[ProjectRecord], *,
               log: LogEntry | None = None) -> Future[None]:
        table = quote_identifier(schema.table_name)
        layout = self._layouts.writable(schema)  # the rows fit the table as it is (else a clear error)
        to_arrow = self._arrow_builder(schema, layout)
        guard = self._layouts.guard(schema.table_name, layout)
        rows = list(records)
        key = self._key_check(schema)
        logged = self._log.created_rows(schema.table_name, schema.id_column.name) if self._log else None
        op: WriteOp
        if log is not None:
            # Logged inserts are not merged with others: the log check and entry belong to this op.
            def insert_logged(con: duckdb.DuckDBPyConnection) -> int:
                guard()
                built = to_arrow(rows)
                inserted = insert_arrow(con, table, built, key)
                if logged is not None:
                    logged(con, built)
                return inserted

            op = Execute(self._requests.guarded(log, insert_logged), translate_error=_insert_error(rows),
                         estimated_bytes=estimated_bytes(rows))
        else:
            op = InsertRows(table, rows, to_arrow, translate_error=_insert_error(rows), guard=guard,
                            estimated_bytes=estimated_bytes(rows), key_check=key, logged=logged)
        cache, name, shape = self._cache, schema.table_name, schema.content_hash()

        def committed(result: Any) -> None:
            if not isinstance(result, Replayed):
                cache.written(name, shape, rows)

        op.after_commit = committed
        return then(self._writer.submit(op), _replayed_is_an_error)

    def replace(self, schema: TableSchema, record: ProjectRecord, expected_etag: str, *,
                timeout: float | None, log: LogEntry | None = None) -> bool:
        id_column = schema.id_column.name
        assignments = [c.name for c in schema.columns if c.name != id_column]
        set_sql = ", ".join(f"{quote_identifier(n)} = ?" for n in [*assignments, UPDATE_TIME, SCHEMA_VERSION, ETAG])
        sql = (f"UPDATE {quote_identifier(schema.table_name)} SET {set_sql} "
               f"WHERE {quote_identifier(id_column)} = ? AND {quote_identifier(ETAG)} = ?")
        params = [_param(record.attributes.get(n)) for n in assignments]
        params += [record.update_time, record.schema_version, record.etag, str(record.project_id), expected_etag]
        guard = self._layouts.guard(schema.table_name, self._layouts.writable(schema))
        changes, layouts, name = self._log, self._layouts, schema.table_name
        match = f"{quote_identifier(schema.table_name)} WHERE {quote_identifier(id_column)} = ?"

        def update(con: duckdb.DuckDBPyConnection) -> int:
            guard()
            if changes is None:
                return _rowcount(con.execute(sql, params))
            columns = layouts.columns(name)
            before = first_row(con.execute(f"SELECT {image_sql(columns)} FROM {match} AND {quote_identifier(ETAG)} = ?",
                                           [str(record.project_id), expected_etag]))
            if before is None:
                return 0
            changed = _rowcount(con.execute(sql, params))
            if changed:
                changes.log(con, name, ChangeType.UPDATED, id_column, match, [str(record.project_id)],
                            after=columns, before_json=before[0])
            return changed

        write = self._requests.guarded(log, update, succeeded=lambda changed: changed == 1)
        op = Execute(write, estimated_bytes=estimated_bytes([record]))
        cache, name, shape = self._cache, schema.table_name, schema.content_hash()

        def committed(result: Any) -> None:
            if result == 1:
                cache.written(name, shape, [record])

        op.after_commit = committed
        changed = self._writer.run(op, timeout)
        if isinstance(changed, Replayed):
            raise RequestReplayed(changed.logged)
        return changed == 1

    def delete(self, schema: TableSchema, project_id: uuid.UUID, expected_etag: str | None, *,
               timeout: float | None) -> bool:
        self._layouts.require(schema.table_name)
        sql = (f"DELETE FROM {quote_identifier(schema.table_name)} "
               f"WHERE {quote_identifier(schema.id_column.name)} = ?")
        params: list[Any] = [str(project_id)]
        condition = f"{quote_identifier(schema.id_column.name)} = ?"
        if expected_etag is not None:
            sql += f" AND {quote_identifier(ETAG)} = ?"
            condition += f" AND {quote_identifier(ETAG)} = ?"
            params.append(expected_etag)
        changes, layouts, name, id_column = self._log, self._layouts, schema.table_name, schema.id_column.name

        def remove(con: duckdb.DuckDBPyConnection) -> int:
            if changes is not None and not changes.log(
                    con, name, ChangeType.DELETED, id_column, f"{quote_identifier(name)} WHERE {condition}", params,
                    before=layouts.columns(name)):
                return 0
            return _rowcount(con.execute(sql, params))

        op = Execute(remove)
        cache, name = self._cache, schema.table_name

        def committed(result: Any) -> None:
            if result:
                cache.removed(name, project_id)

        op.after_commit = committed
        return self._writer.run(op, timeout) == 1

    # -- reads ------------------------------------------------------------------
    def get(self, schema: TableSchema, project_id: uuid.UUID, at: int | None = None) -> ProjectRecord | None:
        table, shape = schema.table_name, schema.content_hash()
        past = self._past_source(schema, at)
        if past is not None:
            sql = (f"SELECT {self._layouts.select_list(schema)} FROM {past} "
                   f"WHERE {quote_identifier(schema.id_column.name)} = ?")
            with self._pool.connection() as con:
                row = first_row(con.execute(sql, [str(project_id)]))
            return None if row is None else record_from_row(schema, row)
        cached = self._cache.get(table, shape, project_id)
        if cached is not None:
            return cached
        began = self._cache.sequence(table)
        sql = (f"SELECT {self._layouts.select_list(schema)} FROM {quote_identifier(table)} "
               f"WHERE {quote_identifier(schema.id_column.name)} = ?")
        with self._pool.connection() as con:
            row = first_row(con.execute(sql, [str(project_id)]))
        if row is None:
            return None
        record = record_from_row(schema, row)
        self._cache.fill(table, shape, record, began)
        return record

    def _past_source(self, schema: TableSchema, at: int | None) -> str | None:
        """What to read `schema`'s table at position `at` from; None when that is the table as it is now."""
        if at is None or self._changes is None:
            return None
        if not self._pool.lake and self._changes.change_log.unchanged_since(schema.table_name, at):
            return None  # a file's writer saw every change since: the present is that past
        return self._changes.source_at(schema, self._layouts.source(schema), at)

    def peek(self, schema: TableSchema, project_id: uuid.UUID) -> ProjectRecord | None:
        return self._cache.get(schema.table_name, schema.content_hash(), project_id)

    def list_page(self, schema: TableSchema, query: ProjectQuery, page_size: int,
                  after: tuple[Any, ...] | None, at: int | None = None) -> StoredPage:
        past = self._past_source(schema, at)
        if past is not None:
            return self._page(schema, query, page_size, after, past, None, at).page
        table, page_key, total_key = _page_keys(schema, query, page_size, after)
        cached = self._cache.result(table, page_key)
        if cached is not None:
            return cached  # type: ignore[no-any-return]
        began = self._cache.sequence(table)
        total = self._cache.result(table, total_key)
        # Columns the table lacks yet read as NULL, in filters too.
        first = self._page(schema, query, page_size, after, self._layouts.source(schema), total, None)
        # The total and the pages stay valid while the table is unchanged: a query counts once, and
        # a client walking its pages finds the next ones here, keyed as its page tokens decode.
        self._cache.keep_result(table, total_key, first.total_size, began)
        self._cache.keep_result(table, page_key, first.page, began)
        for following in first.following:
            after_last = key_values(query.ordering, following.previous)
            self._cache.keep_result(table, _page_keys(schema, query, page_size, after_last)[1], following.page,
                                    began)
        return first.page

    def _page(self, schema: TableSchema, query: ProjectQuery, page_size: int, after: tuple[Any, ...] | None,
              source: str, total: int | None, at: int | None) -> _Pages:
        """The page after `after` (and the ones the same scan found after it) read from `source`."""
        where = where_sql(query.filter)
        keyset = after_sql(query.ordering, after) if after is not None else SqlFragment()
        select, order = self._layouts.select_list(schema), order_sql(query.ordering)
        # The top-N scan reads every matching row whatever N is, so it fetches the next pages too.
        limit = page_size * max(1, PREFETCH_ROWS // page_size) + 1
        known = self._changes.known() if self._changes is not None else 0
        with self._pool.connection() as con:
            # One read transaction, so the page, the total and the position see the same snapshot.
            con.begin()
            try:
                read = at if at is not None or self._changes is None else self._changes.snapshot_position(con, known)
                if total is None and query.filter is not None:
                    # The filter's matches are gathered once, for the count and the top-N both: one
                    # scan of the table instead of two (a first page costs little more than raw DuckDB's).
                    rows = con.execute(
                        f"WITH matching AS MATERIALIZED (SELECT * FROM {source} WHERE {where.sql}) "
                        f"SELECT {select}, (SELECT count(*) FROM matching) FROM matching WHERE {keyset.sql} "
                        f"ORDER BY {order} LIMIT ?", [*where.params, *keyset.params, limit]).fetchall()
                    total = rows[0][-1] if rows else first_row(
                        con.execute(f"SELECT count(*) FROM {source} WHERE {where.sql}", where.params))[0]
                    rows = [row[:-1] for row in rows]
                else:
                    rows = con.execute(
                        f"SELECT {select} FROM {source} WHERE {where.sql} AND {keyset.sql} ORDER BY {order} "
                        "LIMIT ?", [*where.params, *keyset.params, limit]).fetchall()
                    if total is None:  # no filter: DuckDB counts a whole table from its metadata
                        total = first_row(con.execute(f"SELECT count(*) FROM {source}"))[0]
            finally:
                con.rollback()
        pages = (limit - 1) // page_size
        records = [record_from_row(schema, row) for row in rows[:page_size * pages]]
        first = StoredPage(records[:page_size], len(rows) > page_size, int(total), read)
        following = [_Following(records[start - 1], StoredPage(records[start:start + page_size],
                                                               len(rows) > start + page_size, int(total), read))
                     for start in range(page_size, len(records), page_size)]
        return _Pages(first, following)

    def peek_page(self, schema: TableSchema, query: ProjectQuery, page_size: int,
                  after: tuple[Any, ...] | None, at: int | None = None) -> StoredPage | None:
        if at is not None and (self._pool.lake or self._changes is None
                               or not self._changes.change_log.unchanged_since(schema.table_name, at)):
            return None
        table, page_key, _ = _page_keys(schema, query, page_size, after)
        return self._cache.result(table, page_key)  # type: ignore[no-any-return]

    def find_request(self, request_id: str, not_before: datetime) -> LoggedRequest | None:
        return self._requests.find_request(request_id, not_before)

    # -- bulk -------------------------------------------------------------------
    def begin_import(self, schema: TableSchema) -> ImportSpool:
        return ImportSpool(schema, self._writer, self._requests, directory=self._spool_dir, guard=self._guard,
                           cache=self._cache, changes=self._log)

    def export(self, schema: TableSchema, query: ProjectQuery, export_format: ExportFormat, *,
               ordered: bool, at: int | None = None,
               read_position: ReadPosition | None = None) -> Iterator[tuple[bytes | memoryview, int]]:
        source = self._past_source(schema, at) or self._layouts.source(schema)
        changes = self._changes
        known = changes.known() if changes is not None else 0

        def snapshot(con: duckdb.DuckDBPyConnection) -> None:
            if read_position is not None and changes is not None:
                read_position.value = at if at is not None else changes.snapshot_position(con, known)

        return export_chunks(self._pool, schema, query, export_format, source, ordered=ordered,
                             pipe_dir=self._spool_dir, snapshot=snapshot)

    def summarize(self, schema: TableSchema, plan: SummaryPlan, at: int | None = None) -> Summary:
        return run_summary(self._pool, plan, self._past_source(schema, at) or self._layouts.source(schema))


@dataclass(frozen=True)
class _Following:
    previous: ProjectRecord  # the last record before the page
    page: StoredPage


@dataclass(frozen=True)
class _Pages:
    page: StoredPage
    following: list[_Following]

    @property
    def total_size(self) -> int:
        return self.page.total_size


def _page_keys(schema: TableSchema, query: ProjectQuery, page_size: int,
               after: tuple[Any, ...] | None) -> tuple[str, tuple[Any, ...], tuple[Any, ...]]:
    """(table, key of the page, key of the match count): compiled queries are immutable values."""
    shape = schema.content_hash()
    return schema.table_name, ("page", shape, query, after, page_size), ("count", shape, query.filter)


def _replayed_is_an_error(result: Any) -> None:
    if isinstance(result, Replayed):
        raise RequestReplayed(result.logged)


def estimated_bytes(records: Sequence[ProjectRecord]) -> int:
    """Roughly what the rows take on disk (the disk guard's estimate): their text, plus a little a value."""
    total = 0
    for record in records:
        for value in record.attributes.values():
            total += len(value) if type(value) is str else 16
        total += 96  # bookkeeping columns and the primary key index
    return total


def _param(value: Any) -> Any:
    return str(value) if isinstance(value, uuid.UUID) else value


def _rowcount(result: duckdb.DuckDBPyConnection) -> int:
    row = first_row(result)
    return int(row[0]) if row else 0


def _insert_error(records: Sequence[ProjectRecord]) -> Callable[[Exception], Exception]:
    def translate(error: Exception) -> Exception:
        if isinstance(error, duckdb.ConstraintException) and "Duplicate key" in str(error):
            if len(records) == 1:
                name = project_name(records[0].project_id)
                return AlreadyExists(f"project {name} already exists", resource_type="duckdbspawn.io/Project",
                                     resource_name=name)
            match = _DUPLICATE_KEY.search(str(error))
            if match is not None:
                name = project_name(uuid.UUID(match.group(1)))
                return AlreadyExists(f"project {name} already exists; nothing was created",
                                     resource_type="duckdbspawn.io/Project", resource_name=name)
            return AlreadyExists("a project in the request already exists; nothing was created",
                                 resource_type="duckdbspawn.io/Project", resource_name="projects/-")
        return opaque_error(error)

    return translate
