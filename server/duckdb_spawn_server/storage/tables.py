"""Hosted tables in DuckDB: creation from the schema model and introspection.

DDL runs through the writer, so it is serialised with every other write and
commits atomically with the catalog row that records which schema version
the table matches.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import duckdb

from ..domain.schema import TableSchema
from ..domain.tables import TableColumn, TableCreation, TableInfo
from .ddl import CATALOG_TABLE, CREATE_CATALOG_SQL, create_table_sql
from .pool import ConnectionPool
from .sql import quote_identifier
from .writer import Execute, GroupCommitWriter


def table_exists(con: duckdb.DuckDBPyConnection, table: str) -> bool:
    row = con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE database_name = current_database() "
        "AND schema_name = 'main' AND table_name = ?", [table]).fetchone()
    return bool(row and row[0])


class TableStore:
    def __init__(self, pool: ConnectionPool, writer: GroupCommitWriter) -> None:
        self._pool = pool
        self._writer = writer

    def ensure_catalog(self, timeout: float | None = None) -> None:
        self._writer.run(Execute(lambda con: con.execute(CREATE_CATALOG_SQL)), timeout)

    def create(self, schema: TableSchema, timeout: float | None = None) -> TableCreation:
        """Creates the table if missing; idempotent."""

        def create(con: duckdb.DuckDBPyConnection) -> bool:
            if table_exists(con, schema.table_name):
                return False
            con.execute(create_table_sql(schema, if_not_exists=False))
            _record_version(con, schema)
            return True

        return TableCreation(schema.table_name, bool(self._writer.run(Execute(create), timeout)))

    def describe(self, schema: TableSchema) -> TableInfo | None:
        """The table derived from `schema`, or None if it does not exist."""
        with self._pool.connection() as con:
            if not table_exists(con, schema.table_name):
                return None
            columns = [
                TableColumn(name, data_type, not is_nullable, default)
                for name, data_type, is_nullable, default in con.execute(
                    "SELECT column_name, data_type, is_nullable, column_default FROM duckdb_columns() "
                    "WHERE database_name = current_database() AND schema_name = 'main' AND table_name = ? "
                    "ORDER BY column_index", [schema.table_name]).fetchall()
                if not name.startswith("_")
            ]
            row_count = con.execute(f"SELECT count(*) FROM {quote_identifier(schema.table_name)}").fetchone()[0]
            catalog = con.execute(
                f"SELECT schema_version, schema_hash FROM {quote_identifier(CATALOG_TABLE)} WHERE table_name = ?",
                [schema.table_name]).fetchone()
        version, content_hash = catalog if catalog else ("", "")
        return TableInfo(
            name=schema.table_name, schema_id=schema.schema_id, columns=columns, row_count=int(row_count),
            schema_version=version, in_sync=content_hash == schema.content_hash(),
        )


def _record_version(con: duckdb.DuckDBPyConnection, schema: TableSchema) -> None:
    now: Any = datetime.now(UTC).replace(tzinfo=None)
    con.execute(
        f"INSERT OR REPLACE INTO {quote_identifier(CATALOG_TABLE)} "
        "(table_name, schema_id, schema_version, schema_hash, updated_at) VALUES (?, ?, ?, ?, ?)",
        [schema.table_name, schema.schema_id, schema.version, schema.content_hash(), now])
