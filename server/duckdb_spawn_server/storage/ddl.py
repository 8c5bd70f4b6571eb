"""DDL from the internal schema model: the one code path that creates tables.

Every hosted table has the ontology's columns (the identifier column as the
primary key, NOT NULL for required columns, defaults) followed by the
service's bookkeeping columns, whose `_` prefix no ontology name can take.
"""

from __future__ import annotations

from ..domain.schema import Column, ColumnRole, TableSchema
from .sql import quote_identifier, sql_literal

CREATE_TIME = "_create_time"
UPDATE_TIME = "_update_time"
SCHEMA_VERSION = "_schema_version"
ETAG = "_etag"

# Bookkeeping columns: name -> DDL type.
SYSTEM_COLUMNS: dict[str, str] = {
    CREATE_TIME: "TIMESTAMP NOT NULL",
    UPDATE_TIME: "TIMESTAMP NOT NULL",
    SCHEMA_VERSION: "VARCHAR NOT NULL",
    ETAG: "VARCHAR NOT NULL",
}

# Which schema version each hosted table was last reconciled with.
CATALOG_TABLE = "_duckdb_spawn_tables"
CREATE_CATALOG_SQL = f"""
CREATE TABLE IF NOT EXISTS {quote_identifier(CATALOG_TABLE)} (
    table_name VARCHAR PRIMARY KEY,
    schema_id VARCHAR NOT NULL,
    schema_version VARCHAR NOT NULL,
    schema_hash VARCHAR NOT NULL,
    updated_at TIMESTAMP NOT NULL
)"""


def column_definition(column: Column) -> str:
    parts = [quote_identifier(column.name), column.type.sql]
    if column.role is ColumnRole.ID:
        parts.append("PRIMARY KEY")
    elif column.required:
        parts.append("NOT NULL")
    if column.default is not None:
        parts.append("DEFAULT " + sql_literal(column.default, column.type))
    return " ".join(parts)


def create_table_sql(schema: TableSchema, *, if_not_exists: bool = True) -> str:
    definitions = [column_definition(c) for c in schema.columns]
    definitions += [f"{quote_identifier(name)} {ddl}" for name, ddl in SYSTEM_COLUMNS.items()]
    guard = "IF NOT EXISTS " if if_not_exists else ""
    body = ",\n    ".join(definitions)
    return f"CREATE TABLE {guard}{quote_identifier(schema.table_name)} (\n    {body}\n)"
