"""The physical layout of hosted tables, and whether a schema's rows fit it.

Bulk inserts hand DuckDB an Arrow table by position (the cheapest insert
path: about half the CPU of INSERT ... SELECT from a registered view), so
they must know the table's actual column order, which migrations change
(added columns go last). The layout is read once and cached; every DDL
publishes the new one from the writer thread right after it commits.

Schemas and tables can disagree for a while (a migration pending or just
applied), so:

- `writable(schema)` checks that rows validated by `schema` can be stored
  (every schema column exists with a type that holds its values; no NOT
  NULL column the schema does not know) and returns the layout to build
  them for;
- `guard(table, layout)` runs in the writer thread just before the insert,
  so a write built for a layout that a migration replaced while it was
  queued fails with a retryable ABORTED instead of landing in the wrong
  columns;
- `select_list(schema)` reads a schema's columns even when the table lacks
  some (they read as NULL) or has extra ones (not read);
- `source(schema)` is what queries select FROM: while the table lacks some of
  the schema's columns, it adds them as typed NULLs, so filters, orderings,
  exports and summaries that name them see missing values, as reads do.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from ..domain.errors import Aborted, FailedPrecondition
from ..domain.migration import is_widening
from ..domain.schema import TableSchema
from ..domain.types import InvalidType, parse_type
from .catalog import MISSING, Layout, read_layout
from .ddl import SYSTEM_COLUMNS, physical_type
from .pool import ConnectionPool
from .sql import quote_identifier


class TableLayouts:
    def __init__(self, pool: ConnectionPool) -> None:
        self._pool = pool
        self._lock = threading.Lock()
        self._cache: dict[str, Layout] = {}
        self._verdicts: dict[tuple[str, Layout], Exception | None] = {}

    def layout(self, table: str) -> Layout:
        cached = self._cache.get(table)
        if cached is not None:
            return cached
        with self._pool.connection() as con:
            layout = read_layout(con, table)
        with self._lock:
            return self._cache.setdefault(table, layout)

    def columns(self, table: str) -> tuple[str, ...]:
        return self.layout(table).columns

    def publish(self, table: str, layout: Layout | None) -> None:
        """A DDL committed: this is the table's layout now (None or MISSING: it was dropped)."""
        with self._lock:
            self._cache[table] = layout or MISSING
            self._verdicts.clear()

            self._verdicts.clear()

    # -- writes -------------------------------------------------------------------
    def writable(self, schema: TableSchema) -> tuple[str, ...]:
        """The layout to build `schema`'s rows for; raises when they cannot be stored as they are."""
        layout = self.layout(schema.table_name)
        key = (schema.content_hash(), layout)
        if key not in self._verdicts:
            self._verdicts[key] = _fit(schema, layout)
        problem = self._verdicts[key]
        if problem is not None:
            raise problem
        return layout.columns

    def guard(self, table: str, columns: tuple[str, ...]) -> Callable[[], None]:
        """A check for the writer thread: the table still has the layout the rows were built for."""

        # On a lake, writes name their columns: a column added meanwhile (by any replica) is no obstacle.
        names_columns = self._pool.lake

        def check() -> None:
            current = self._cache.get(table)
            if current is None or current.columns == columns:
                return
            if not names_columns or not set(columns) <= set(current.columns):
                raise Aborted("the table was migrated while the write was queued; retry",
                              reason="TABLE_CHANGED", metadata={"table": table})

        return check

    def require(self, table: str) -> None:
        """Raises FAILED_PRECONDITION when the table does not exist (it was dropped)."""
        if not self.layout(table).exists:
            raise _missing(table)

    # -- reads --------------------------------------------------------------------
    def select_list(self, schema: TableSchema) -> str:
        """`schema`'s columns then the bookkeeping ones; columns the table lacks read as NULL."""
        layout = self.layout(schema.table_name)
        if not layout.exists:
            raise _missing(schema.table_name)
        present = set(layout.columns)
        names = [c.name for c in schema.columns] + list(SYSTEM_COLUMNS)
        return ", ".join(quote_identifier(n) if n in present else f"NULL AS {quote_identifier(n)}" for n in names)

    def source(self, schema: TableSchema) -> str:
        """The table, or (an additive migration pending) the table with the columns it lacks as typed NULLs."""
        layout = self.layout(schema.table_name)
        if not layout.exists:
            raise _missing(schema.table_name)
        table = quote_identifier(schema.table_name)
        present = set(layout.columns)
        missing = [c for c in schema.columns if c.name not in present]
        if not missing:
            return table
        nulls = ", ".join(f"CAST(NULL AS {physical_type(c.type)}) AS {quote_identifier(c.name)}" for c in missing)
        return f"(SELECT *, {nulls} FROM {table}) AS {table}"


def _fit(schema: TableSchema, layout: Layout) -> Exception | None:
    table = schema.table_name
    if not layout.exists:
        return _missing(table)
    for column in schema.columns:
        table_type = layout.type_of(column.name)
        if table_type is None:
            return _not_migrated(table, column.name, f"the table has no column {column.name}")
        wanted = physical_type(column.type)
        if table_type != wanted and not _holds(table_type, wanted):
            return _not_migrated(table, column.name,
                                 f"column {column.name} is {table_type} in the table but {wanted} in the schema")
    known = {c.name for c in schema.columns} | set(SYSTEM_COLUMNS)
    unknown = sorted(layout.not_null - known)
    if unknown:
        # Normally a migration for a newer schema that is about to come into force.
        return Aborted(f"the table requires column {unknown[0]}, which schema version {schema.version} does not "
                       "define; retry (the new schema is coming into force)", reason="SCHEMA_CHANGED",
                       metadata={"table": table, "column": unknown[0]})
    return None


def _holds(table_type: str, schema_type: str) -> bool:
    try:
        return is_widening(parse_type(schema_type), parse_type(table_type))
    except InvalidType:
        return False


def _missing(table: str) -> FailedPrecondition:
    return FailedPrecondition(f"table {table} does not exist; create it with InitializeDatabase or CreateTables",
                              reason="TABLE_MISSING", metadata={"table": table})


def _not_migrated(table: str, column: str, detail: str) -> FailedPrecondition:
    return FailedPrecondition(
        f"{detail}: the table is not migrated to the current schema (see GetTable's pending steps; "
        "apply them with UpdateTable)", reason="TABLE_NOT_MIGRATED", metadata={"table": table, "column": column})
