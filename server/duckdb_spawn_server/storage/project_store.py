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
from datetime import datetime
from functools import partial
from typing import Any

import duckdb
import pyarrow as pa

from ..domain.errors import AlreadyExists
from ..domain.futures import then
from ..domain.names import project_name
from ..domain.ordering import key_values
from ..domain.queries import ExportFormat, ProjectQuery
from ..domain.records import ProjectRecord, StoredPage
from ..domain.request_ids import LogEntry, LoggedRequest, RequestReplayed
from ..domain.schema import TableSchema
from ..domain.summaries import Summary, SummaryPlan
from .arrow_rows import records_to_arrow
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
                 cache: RecordCache | None = None, coordinator: LakeCoordinator | None = None) -> None:
        self._pool = pool
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
        op: WriteOp
        if log is not None:
            # Logged inserts are not merged with others: the log check and entry belong to this op.
            def insert_logged(con: duckdb.DuckDBPyConnection) -> int:
                guard()
                return insert_arrow(con, table, to_arrow(rows), key)

            op = Execute(self._requests.guarded(log, insert_logged), translate_error=_insert_error(rows),
                         estimated_bytes=estimated_bytes(rows))
        else:
            op = InsertRows(table, rows, to_arrow, translate_error=_insert_error(rows), guard=guard,
                            estimated_bytes=estimated_bytes(rows), key_check=key)
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

        def update(con: duckdb.DuckDBPyConnection) -> int:
            guard()
            return _rowcount(con.execute(sql, params))

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
        if expected_etag is not None:
            sql += f" AND {quote_identifier(ETAG)} = ?"
            params.append(expected_etag)
        op = Execute(lambda con: _rowcount(con.execute(sql, params)))
        cache, name = self._cache, schema.table_name

        def committed(result: Any) -> None:
            if result:
                cache.removed(name, project_id)

        op.after_commit = committed
        return self._writer.run(op, timeout) == 1

    # -- reads ------------------------------------------------------------------
    def get(self, schema: TableSchema, project_id: uuid.UUID) -> ProjectRecord | None:
        table, shape = schema.table_name, schema.content_hash()
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
        record = _record(schema, row)
        self._cache.fill(table, shape, record, began)
        return record

    def peek(self, schema: TableSchema, project_id: uuid.UUID) -> ProjectRecord | None:
        return self._cache.get(schema.table_name, schema.content_hash(), project_id)

    def list_page(self, schema: TableSchema, query: ProjectQuery, page_size: int,
                  after: tuple[Any, ...] | None) -> StoredPage:
        table, page_key, total_key = _page_keys(schema, query, page_size, after)
        cached = self._cache.result(table, page_key)
        if cached is not None:
            return cached  # type: ignore[no-any-return]
        began = self._cache.sequence(table)
        total = self._cache.result(table, total_key)
        source = self._layouts.source(schema)  # columns the table lacks yet read as NULL, in filters too
        where = where_sql(query.filter)
        position = after_sql(query.ordering, after) if after is not None else SqlFragment()
        select, order = self._layouts.select_list(schema), order_sql(query.ordering)
        # The top-N scan reads every matching row whatever N is, so it fetches the next pages too.
        limit = page_size * max(1, PREFETCH_ROWS // page_size) + 1
        with self._pool.connection() as con:
            # One read transaction, so the page and the total see the same snapshot.
            con.begin()
            try:
                if total is None and query.filter is not None:
                    # The filter's matches are gathered once, for the count and the top-N both: one
                    # scan of the table instead of two (a first page costs little more than raw DuckDB's).
                    rows = con.execute(
                        f"WITH matching AS MATERIALIZED (SELECT * FROM {source} WHERE {where.sql}) "
                        f"SELECT {select}, (SELECT count(*) FROM matching) FROM matching WHERE {position.sql} "
                        f"ORDER BY {order} LIMIT ?", [*where.params, *position.params, limit]).fetchall()
                    total = rows[0][-1] if rows else first_row(
                        con.execute(f"SELECT count(*) FROM {source} WHERE {where.sql}", where.params))[0]
                    rows = [row[:-1] for row in rows]
                else:
                    rows = con.execute(
                        f"SELECT {select} FROM {source} WHERE {where.sql} AND {position.sql} ORDER BY {order} "
                        "LIMIT ?", [*where.params, *position.params, limit]).fetchall()
                    if total is None:  # no filter: DuckDB counts a whole table from its metadata
                        total = first_row(con.execute(f"SELECT count(*) FROM {source}"))[0]
            finally:
                con.rollback()
        pages = (limit - 1) // page_size
        # The total and the pages stay valid while the table is unchanged: a query counts once, and
        # a client walking its pages finds the next ones here, keyed as its page tokens decode.
        self._cache.keep_result(table, total_key, int(total), began)
        records = [_record(schema, row) for row in rows[:page_size * pages]]
        first = StoredPage(records[:page_size], len(rows) > page_size, int(total))
        self._cache.keep_result(table, page_key, first, began)
        for start in range(page_size, len(records), page_size):
            after = key_values(query.ordering, records[start - 1])
            following = StoredPage(records[start:start + page_size], len(rows) > start + page_size, int(total))
            self._cache.keep_result(table, _page_keys(schema, query, page_size, after)[1], following, began)
        return first

    def peek_page(self, schema: TableSchema, query: ProjectQuery, page_size: int,
                  after: tuple[Any, ...] | None) -> StoredPage | None:
        table, page_key, _ = _page_keys(schema, query, page_size, after)
        return self._cache.result(table, page_key)  # type: ignore[no-any-return]

    def find_request(self, request_id: str, not_before: datetime) -> LoggedRequest | None:
        return self._requests.find_request(request_id, not_before)

    # -- bulk -------------------------------------------------------------------
    def begin_import(self, schema: TableSchema) -> ImportSpool:
        return ImportSpool(schema, self._writer, self._requests, directory=self._spool_dir, guard=self._guard,
                           cache=self._cache)

    def export(self, schema: TableSchema, query: ProjectQuery, export_format: ExportFormat, *,
               ordered: bool) -> Iterator[tuple[bytes | memoryview, int]]:
        return export_chunks(self._pool, schema, query, export_format, self._layouts.source(schema),
                             ordered=ordered, pipe_dir=self._spool_dir)

    def summarize(self, schema: TableSchema, plan: SummaryPlan) -> Summary:
        return run_summary(self._pool, plan, self._layouts.source(schema))


def _page_keys(schema: TableSchema, query: ProjectQuery, page_size: int,
               after: tuple[Any, ...] | None) -> tuple[str, tuple[Any, ...], tuple[Any, ...]]:
    """(table, key of the page, key of the match count): compiled queries are immutable values."""
    shape = schema.content_hash()
    return schema.table_name, ("page", shape, query, after, page_size), ("count", shape, query.filter)


def _record(schema: TableSchema, row: tuple[Any, ...]) -> ProjectRecord:
    count = len(schema.columns)
    attributes = {c.name: row[i] for i, c in enumerate(schema.columns)}
    create_time, update_time, version, etag = row[count:count + 4]
    project_id = attributes[schema.id_column.name]
    return ProjectRecord(project_id if isinstance(project_id, uuid.UUID) else uuid.UUID(str(project_id)),
                         attributes, create_time, update_time, etag, version, schema.content_hash())


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
