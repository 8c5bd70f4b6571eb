"""What storage knows about a hosted table: its physical columns, joined with the catalog row.

DuckDB reports a column's physical type (VARCHAR for VARCHAR(40) and
CHAR(3)), its nullability and whether it is the primary key. The catalog
table `_duckdb_spawn_tables` adds what DuckDB forgets: the logical types and
typed defaults the table was last reconciled with, and that schema's
version and hash. `read_state` combines both into the planner's
`TableState`; a physical column whose type no longer matches the recorded
logical one is taken at its physical type.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import duckdb

from ..domain.errors import FailedPrecondition
from ..domain.migration import ExistingColumn, TableState
from ..domain.types import ColumnType, InvalidType, parse_type
from ..domain.values import ValueProblem, coercer_for, to_json_value
from .ddl import CATALOG_TABLE, physical_type
from .sql import first_row, quote_identifier

_CATALOG = quote_identifier(CATALOG_TABLE)


def is_current(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether the catalog table exists with every column this version uses (nothing to create)."""
    row = first_row(con.execute(
        "SELECT count(*) FROM duckdb_columns() WHERE database_name = current_database() AND schema_name = 'main' "
        "AND table_name = ? AND column_name = 'columns_json'", [CATALOG_TABLE]))
    return bool(row and row[0])


@dataclass(frozen=True)
class Layout:
    """A table's physical columns in order (bookkeeping columns included); empty: no table."""

    columns: tuple[str, ...]
    types: tuple[str, ...]
    not_null: frozenset[str]

    @property
    def exists(self) -> bool:
        return bool(self.columns)

    def type_of(self, name: str) -> str | None:
        try:
            return self.types[self.columns.index(name)]
        except ValueError:
            return None


MISSING = Layout((), (), frozenset())


def read_layout(con: duckdb.DuckDBPyConnection, table: str) -> Layout:
    rows = con.execute(
        "SELECT column_name, data_type, is_nullable FROM duckdb_columns() WHERE database_name = current_database() "
        "AND schema_name = 'main' AND table_name = ? ORDER BY column_index", [table]).fetchall()
    return Layout(tuple(r[0] for r in rows), tuple(r[1] for r in rows),
                  frozenset(r[0] for r in rows if not r[2]))


def read_state(con: duckdb.DuckDBPyConnection, table: str, *, recorded_required: bool = False) -> TableState | None:
    """The table as it is, or None when it does not exist."""
    layout = read_layout(con, table)
    if not layout.exists:
        return None
    keys = con.execute(
        "SELECT constraint_column_names FROM duckdb_constraints() WHERE database_name = current_database() "
        "AND schema_name = 'main' AND table_name = ? AND constraint_type = 'PRIMARY KEY'", [table]).fetchall()
    primary = {name for (names,) in keys for name in names}
    row = first_row(con.execute(
        f"SELECT schema_version, schema_hash, columns_json FROM {_CATALOG} WHERE table_name = ?", [table]))
    version, content_hash, columns_json = row if row else ("", "", None)
    logical = _decode(columns_json)
    # A lake's tables have no PRIMARY KEY constraint: the catalog says which column is the key.
    primary |= {name for name, recorded in logical.items() if recorded.get("primary_key")}
    count = first_row(con.execute(f"SELECT count(*) FROM {quote_identifier(table)}"))
    columns = []
    for name, data_type in zip(layout.columns, layout.types, strict=True):
        if name.startswith("_"):
            continue
        ctype, default = _logical(table, name, data_type, logical.get(name))
        # A lake's tables keep required columns nullable (DuckLake cannot add the constraint): the catalog says.
        required = name in layout.not_null or (recorded_required and bool(logical.get(name, {}).get("required")))
        columns.append(ExistingColumn(name, ctype, required, default, name in primary))
    return TableState(table, tuple(columns), int(count[0]) if count else 0, version, content_hash)


def record(con: duckdb.DuckDBPyConnection, state: TableState, schema_id: str) -> None:
    """Records the table's logical state and the schema version it matches (in the caller's transaction)."""
    # The key is recorded too: a lake's tables have no PRIMARY KEY constraint to read it from.
    columns = {c.name: {"type": c.type.sql, "default": to_json_value(c.default) if c.default is not None else None,
                        **({"primary_key": True} if c.primary_key else {}),
                        **({"required": True} if c.required else {})}
               for c in state.columns}
    now: Any = datetime.now(UTC).replace(tzinfo=None)
    # Delete and insert rather than INSERT OR REPLACE, which needs a key DuckLake cannot have.
    con.execute(f"DELETE FROM {_CATALOG} WHERE table_name = ?", [state.table])
    con.execute(
        f"INSERT INTO {_CATALOG} (table_name, schema_id, schema_version, schema_hash, updated_at, "
        "columns_json) VALUES (?, ?, ?, ?, ?, ?)",
        [state.table, schema_id, state.schema_version, state.schema_hash, now, json.dumps(columns)])


def forget(con: duckdb.DuckDBPyConnection, table: str) -> None:
    con.execute(f"DELETE FROM {_CATALOG} WHERE table_name = ?", [table])


def _decode(text: str | None) -> dict[str, dict[str, Any]]:
    if not text:
        return {}
    try:
        value = json.loads(text)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _logical(table: str, name: str, data_type: str, recorded: dict[str, Any] | None) -> tuple[ColumnType, Any]:
    if isinstance(recorded, dict):
        try:
            ctype = parse_type(recorded.get("type"))
            if physical_type(ctype) == data_type:
                raw_default = recorded.get("default")
                return ctype, coercer_for(ctype)(raw_default) if raw_default is not None else None
        except (InvalidType, ValueProblem):
            pass
    try:
        return parse_type(data_type), None
    except InvalidType:
        raise FailedPrecondition(
            f"column {name} of table {table} has type {data_type[:40]}, which this service cannot manage",
            reason="UNMANAGEABLE_COLUMN", metadata={"table": table, "column": name}) from None
