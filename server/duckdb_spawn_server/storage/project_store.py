"""Projects in DuckDB: the `ProjectStore` port over the pool and the writer.

Reads borrow a pooled cursor; writes go through the group-commit writer.
All SQL text is built from quoted identifiers of a validated schema; every
value is a bound parameter or travels in an Arrow table.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from datetime import datetime
from functools import partial
from typing import Any

import duckdb
import pyarrow as pa

from ..domain.errors import AlreadyExists
from ..domain.names import project_name
from ..domain.paging import invalid_page_token
from ..domain.projects import ProjectRecord, StoredPage
from ..domain.schema import TableSchema
from ..domain.values import format_timestamp
from .arrow_rows import records_to_arrow
from .ddl import CREATE_TIME, ETAG, SCHEMA_VERSION, UPDATE_TIME
from .layouts import TableLayouts
from .pool import ConnectionPool
from .sql import quote_identifier
from .writer import Execute, GroupCommitWriter, InsertRows, opaque_error


class DuckDBProjectStore:
    def __init__(self, pool: ConnectionPool, writer: GroupCommitWriter, layouts: TableLayouts) -> None:
        self._pool = pool
        self._writer = writer
        self._layouts = layouts
        self._builders: dict[tuple[str, tuple[str, ...]], Callable[[Sequence[ProjectRecord]], pa.Table]] = {}

    def _arrow_builder(self, schema: TableSchema,
                       layout: tuple[str, ...]) -> Callable[[Sequence[ProjectRecord]], pa.Table]:
        """One converter per (schema version, table layout), so the writer can merge rows sharing it."""
        key = (schema.content_hash(), layout)
        builder = self._builders.get(key)
        if builder is None:
            builder = self._builders[key] = partial(records_to_arrow, schema, layout=layout)
        return builder

    # -- writes -----------------------------------------------------------------
    def insert(self, schema: TableSchema, records: Sequence[ProjectRecord], *, atomic: bool,
               timeout: float | None) -> list[Exception | None]:
        table = quote_identifier(schema.table_name)
        layout = self._layouts.writable(schema)  # the rows fit the table as it is (else a clear error)
        to_arrow = self._arrow_builder(schema, layout)
        guard = self._layouts.guard(schema.table_name, layout)
        if atomic:
            ops = [InsertRows(table, list(records), to_arrow, translate_error=_insert_error(records), guard=guard)]
        else:
            ops = [InsertRows(table, [r], to_arrow, translate_error=_insert_error([r]), guard=guard)
                   for r in records]
        futures = [self._writer.submit(op, timeout) for op in ops]
        outcomes: list[Exception | None] = []
        for future in futures:
            error = future.exception(timeout=None if timeout is None else max(timeout, 0.0) + 30.0)
            if error is not None and not isinstance(error, Exception):
                raise error
            outcomes.append(error)
        if atomic:
            return outcomes * len(records)
        return outcomes

    def replace(self, schema: TableSchema, record: ProjectRecord, expected_etag: str, *,
                timeout: float | None) -> bool:
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

        changed = self._writer.run(Execute(update), timeout)
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
        changed = self._writer.run(Execute(lambda con: _rowcount(con.execute(sql, params))), timeout)
        return changed == 1

    # -- reads ------------------------------------------------------------------
    def get(self, schema: TableSchema, project_id: uuid.UUID) -> ProjectRecord | None:
        sql = (f"SELECT {self._layouts.select_list(schema)} FROM {quote_identifier(schema.table_name)} "
               f"WHERE {quote_identifier(schema.id_column.name)} = ?")
        with self._pool.connection() as con:
            row = con.execute(sql, [str(project_id)]).fetchone()
        return _record(schema, row) if row is not None else None

    def list_page(self, schema: TableSchema, page_size: int, after: tuple[Any, ...] | None) -> StoredPage:
        table = quote_identifier(schema.table_name)
        id_sql = quote_identifier(schema.id_column.name)
        created = quote_identifier(CREATE_TIME)
        where, params = "", []
        if after is not None:
            after_time, after_id = _decode_position(after)
            where = f"WHERE ({created} < ? OR ({created} = ? AND {id_sql} < ?))"
            params = [after_time, after_time, after_id]
        sql = (f"SELECT {self._layouts.select_list(schema)} FROM {table} {where} "
               f"ORDER BY {created} DESC, {id_sql} DESC LIMIT ?")
        with self._pool.connection() as con:
            # One read transaction, so the page and the total see the same snapshot.
            con.begin()
            try:
                rows = con.execute(sql, [*params, page_size + 1]).fetchall()
                total = con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            finally:
                con.rollback()
        records = [_record(schema, row) for row in rows[:page_size]]
        next_position = None
        if len(rows) > page_size:
            last = records[-1]
            next_position = (format_timestamp(last.create_time), str(last.project_id))
        return StoredPage(records, next_position, int(total))


def _record(schema: TableSchema, row: tuple[Any, ...]) -> ProjectRecord:
    count = len(schema.columns)
    attributes = {c.name: row[i] for i, c in enumerate(schema.columns)}
    create_time, update_time, version, etag = row[count:count + 4]
    project_id = attributes[schema.id_column.name]
    return ProjectRecord(project_id if isinstance(project_id, uuid.UUID) else uuid.UUID(str(project_id)),
                         attributes, create_time, update_time, etag, version)


def _decode_position(position: tuple[Any, ...]) -> tuple[datetime, str]:
    try:
        stamp, last_id = position
        moment = datetime.fromisoformat(str(stamp).removesuffix("Z"))
        return moment, str(uuid.UUID(str(last_id)))
    except (TypeError, ValueError):
        raise invalid_page_token("page_token is not a token this service issued") from None


def _param(value: Any) -> Any:
    return str(value) if isinstance(value, uuid.UUID) else value


def _rowcount(result: duckdb.DuckDBPyConnection) -> int:
    row = result.fetchone()
    return int(row[0]) if row else 0


def _insert_error(records: Sequence[ProjectRecord]) -> Callable[[Exception], Exception]:
    def translate(error: Exception) -> Exception:
        if isinstance(error, duckdb.ConstraintException) and "Duplicate key" in str(error):
            if len(records) == 1:
                name = project_name(records[0].project_id)
                return AlreadyExists(f"project {name} already exists", resource_type="duckdbspawn.io/Project",
                                     resource_name=name)
            return AlreadyExists("a project in the request already exists",
                                 resource_type="duckdbspawn.io/Project", resource_name="projects/-")
        return opaque_error(error)

    return translate
