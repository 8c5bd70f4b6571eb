"""DDL from the internal schema model: the one code path that creates and alters tables.

Every hosted table has the ontology's columns (the identifier column as the
primary key, NOT NULL for required columns, defaults) followed by the
service's bookkeeping columns, whose `_` prefix no ontology name can take.
Migration steps (domain/migration.py) are rendered here too, from the same
helpers, so a column added later is declared exactly like one created first.
"""

from __future__ import annotations

from ..domain.migration import MigrationStep, StepAction
from ..domain.schema import Column, ColumnRole, TableSchema
from ..domain.types import ColumnType, TypeKind
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
# The logical column types and defaults ({name: {"type", "default"}}): DuckDB keeps neither
# VARCHAR(n) nor CHAR(n), and a default only as SQL text. Added after the first release.
UPGRADE_CATALOG_SQL = f"ALTER TABLE {quote_identifier(CATALOG_TABLE)} ADD COLUMN IF NOT EXISTS columns_json VARCHAR"


def for_engine(ddl: str, *, keys_enforced: bool) -> str:
    """Our DDL as the engine takes it: DuckLake has no PRIMARY KEY or UNIQUE, so there a key column
    is NOT NULL and the storage code keeps it unique (storage/keys.py)."""
    return ddl if keys_enforced else ddl.replace(" PRIMARY KEY", " NOT NULL")


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


def physical_type(ctype: ColumnType) -> str:
    """The type DuckDB reports for a column declared as `ctype` (lengths are not kept)."""
    if ctype.kind is TypeKind.STRING:
        return "VARCHAR"
    if ctype.name == "REAL":
        return "FLOAT"
    return ctype.sql


def alter_statements(table: str, step: MigrationStep, *, not_null: bool = True) -> list[str]:
    """The ALTER TABLE statements of one migration step (none when nothing physical changes).

    `not_null` False (a lake: DuckLake can neither add a column with a constraint nor set one
    later): required columns stay nullable in the table; the service's validation requires them,
    and the catalog records them as required (storage/catalog.py)."""
    alter = f"ALTER TABLE {quote_identifier(table)}"
    column = quote_identifier(step.column)
    target = step.target
    if step.action is StepAction.ADD_COLUMN:
        assert target is not None
        # DuckDB cannot add a column with a constraint: add it (existing rows get the
        # default), then require it, in the same transaction.
        add = f"{alter} ADD COLUMN {column} {target.type.sql}"
        if target.default is not None:
            add += " DEFAULT " + sql_literal(target.default, target.type)
        return [add] + ([f"{alter} ALTER COLUMN {column} SET NOT NULL"] if target.required and not_null else [])
    if step.action is StepAction.DROP_COLUMN:
        return [f"{alter} DROP COLUMN {column}"]
    if step.action is StepAction.ALTER_TYPE:
        assert step.from_type is not None and step.to_type is not None
        if physical_type(step.from_type) == physical_type(step.to_type):
            return []  # e.g. VARCHAR(10) -> VARCHAR(20): only the logical type changes
        # DuckDB 1.5 casts deleted (not yet vacuumed) rows too, and fails on their values; the
        # live ones were checked to convert exactly before this runs (storage/tables.py).
        new = step.to_type.sql
        return [f"{alter} ALTER COLUMN {column} SET DATA TYPE {new} USING TRY_CAST({column} AS {new})"]
    if step.action is StepAction.SET_NOT_NULL:
        return [f"{alter} ALTER COLUMN {column} SET NOT NULL"] if not_null else []
    if step.action is StepAction.DROP_NOT_NULL:
        return [f"{alter} ALTER COLUMN {column} DROP NOT NULL"] if not_null else []
    if step.action is StepAction.SET_DEFAULT:
        assert target is not None and target.default is not None
        return [f"{alter} ALTER COLUMN {column} SET DEFAULT {sql_literal(target.default, target.type)}"]
    if step.action is StepAction.DROP_DEFAULT:
        return [f"{alter} ALTER COLUMN {column} DROP DEFAULT"]
    raise AssertionError(f"unhandled step {step.action}")


def drop_table_sql(table: str) -> str:
    return f"DROP TABLE {quote_identifier(table)}"
