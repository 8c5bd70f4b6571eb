"""The only helpers that turn names and values into SQL text.

Identifiers are validated against the schema model's safe pattern (or the
service's own `_`-prefixed names) and then double-quoted; literals are
rendered only from typed values the domain has already validated. Values
from requests always travel as bound parameters instead.
"""

from __future__ import annotations

import re
import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import duckdb

from ..domain.types import ColumnType, TypeKind

_SAFE_IDENTIFIER = re.compile(r"^_?[a-z][a-z0-9_]{0,62}$")


def first_row(result: Any) -> tuple[Any, ...] | None:
    """The first row of a query result, reading the result to its end.

    Never `fetchone()` on a result that may have more: an unfinished result
    keeps its transaction open on the connection, and DuckDB then skips
    every automatic checkpoint, so the WAL grows without bound.
    """
    rows = result.fetchall()
    return rows[0] if rows else None


class UnsafeIdentifier(ValueError):
    pass


def quote_identifier(name: str) -> str:
    """`name` -> `"name"`, refusing anything outside the safe identifier pattern."""
    if not isinstance(name, str) or _SAFE_IDENTIFIER.fullmatch(name) is None:
        raise UnsafeIdentifier(f"unsafe identifier {str(name)[:40]!r}")
    return f'"{name}"'


def sql_literal(value: Any, ctype: ColumnType) -> str:
    """A typed, already-validated value as a SQL literal of `ctype` (for DDL defaults)."""
    if value is None:
        return "NULL"
    kind = ctype.kind
    if kind is TypeKind.BOOLEAN:
        return "TRUE" if value is True else "FALSE"
    if kind is TypeKind.INTEGER:
        return str(int(value))
    if kind is TypeKind.DECIMAL:
        return f"CAST({format(Decimal(value), 'f')} AS {ctype.sql})"
    if kind is TypeKind.FLOAT:
        return repr(float(value))
    if kind is TypeKind.DATE and isinstance(value, date):
        return f"DATE '{value.isoformat()}'"
    if kind is TypeKind.TIMESTAMP and isinstance(value, datetime):
        return f"TIMESTAMP '{value.isoformat(sep=' ')}'"
    if kind is TypeKind.UUID:
        return f"CAST('{uuid.UUID(str(value))}' AS UUID)"
    if kind is TypeKind.STRING and isinstance(value, str):
        return string_literal(value)
    raise ValueError(f"cannot render {type(value).__name__} as {ctype.sql}")


def string_literal(text: str) -> str:
    """A SQL string literal of validated or service-made text (a default, a column name, a path)."""
    if "\x00" in text:
        raise ValueError("NUL in string literal")
    return "'" + text.replace("'", "''") + "'"


def table_exists(con: duckdb.DuckDBPyConnection, table: str) -> bool:
    row = first_row(con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE database_name = current_database() "
        "AND schema_name = 'main' AND table_name = ?", [table]))
    return bool(row and row[0])
