"""Hosted tables in DuckDB: create, inspect, migrate and drop them.

Every DDL runs through the writer as an exclusive op -- a transaction of its
own, serialised with every other write -- together with the catalog row
that records the table's logical state. A migration plan is applied in one
transaction: it first checks that the table is still what the plan was made
for, then that the data allows each step (values convert, no missing
values), and only then alters; any failure rolls everything back, so the
table is exactly as before. After a commit, the table's new layout is
published to `TableLayouts` before the writer takes the next op.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

import duckdb

from ..domain.changes import ChangeType
from ..domain.errors import Aborted, DomainError, FailedPrecondition, FieldViolation
from ..domain.migration import MigrationPlan, MigrationStep, StepAction, TableState, state_after, state_of_new_table
from ..domain.schema import TableSchema
from ..domain.tables import TableCreation
from ..domain.types import TypeKind
from . import catalog
from .catalog import Layout, read_layout
from .change_log import ChangeLog
from .coordination import LakeCoordinator
from .ddl import (
    CREATE_CATALOG_SQL,
    UPGRADE_CATALOG_SQL,
    alter_statements,
    create_table_sql,
    drop_table_sql,
    for_engine,
)
from .layouts import TableLayouts
from .pool import ConnectionPool
from .record_cache import RecordCache
from .sql import first_row, quote_identifier, table_exists
from .writer import Execute, GroupCommitWriter, opaque_error

log = logging.getLogger(__name__)
FIRST_ROWS = 10  # how many offending rows an error names


class DuckDBTableStore:
    def __init__(self, pool: ConnectionPool, writer: GroupCommitWriter, layouts: TableLayouts,
                 cache: RecordCache | None = None, coordinator: LakeCoordinator | None = None,
                 leads: Callable[[], bool] | None = None, changes: ChangeLog | None = None) -> None:
        self._pool = pool
        self._changes = changes  # the rows a drop removes are logged as deletes
        self._coordinator = coordinator
        self._leads = leads  # a lake's: whether this replica is its leader (storage/lake_maintenance.py)
        self._writer = writer
        self._layouts = layouts
        self._cache = cache

    def ensure_catalog(self, timeout: float | None = None) -> None:
        def ensure(con: duckdb.DuckDBPyConnection) -> None:
            con.execute(for_engine(CREATE_CATALOG_SQL, keys_enforced=self._pool.keys_enforced))
            con.execute(UPGRADE_CATALOG_SQL)

        # Read first: a start-up that finds everything in place writes nothing, so it also
        # succeeds while writes are refused (a nearly full volume) and reads can be served.
        with self._pool.connection() as con:
            if catalog.is_current(con):
                return
        self._writer.run(Execute(ensure, exclusive=True), timeout)

    def _run_ddl(self, table: str, fn: Any, timeout: float | None, translate: Any = None) -> Any:
        """Runs `fn(con, published)` as an exclusive op; `published` receives the table's new layout."""
        published: list[Layout] = []
        op = Execute(lambda con: fn(con, published), translate_error=translate, exclusive=True)

        def committed(_: Any) -> None:  # in the writer thread, before the next op
            if published:
                self._layouts.publish(table, published[-1])
                if self._cache is not None:
                    self._cache.clear(table)

        op.after_commit = committed
        return self._writer.run(op, timeout)

    def create(self, schema: TableSchema, timeout: float | None = None) -> TableCreation:
        """Creates the table if missing; idempotent (and writes nothing when it exists)."""
        with self._pool.connection() as con:
            if table_exists(con, schema.table_name):
                return TableCreation(schema.table_name, False)

        def create(con: duckdb.DuckDBPyConnection, published: list[Layout]) -> bool:
            if table_exists(con, schema.table_name):
                return False
            con.execute(for_engine(create_table_sql(schema, if_not_exists=False),
                                   keys_enforced=self._pool.keys_enforced))
            catalog.record(con, state_of_new_table(schema), schema.schema_id)
            published.append(read_layout(con, schema.table_name))
            return True

        return TableCreation(schema.table_name, bool(self._run_ddl(schema.table_name, create, timeout)))

    def state(self, table: str) -> TableState | None:
        with self._pool.connection() as con:
            con.begin()  # one snapshot for columns, catalog and row count
            try:
                state = catalog.read_state(con, table, recorded_required=self._pool.lake)
                if self._pool.lake:  # another replica may have changed the table: this is its layout now
                    self._layouts.publish(table, read_layout(con, table))
                return state
            finally:
                con.rollback()

    def apply(self, plan: MigrationPlan, steps: Sequence[MigrationStep], *, timeout: float | None = None) -> TableState:
        """Applies `steps` (of `plan`) in one transaction and records the result; all or nothing."""
        table = plan.base.table
        progress: list[MigrationStep] = []

        def migrate(con: duckdb.DuckDBPyConnection, published: list[Layout]) -> TableState:
            current = catalog.read_state(con, table, recorded_required=self._pool.lake)
            if current is None:
                raise FailedPrecondition(f"table {table} does not exist", reason="TABLE_MISSING",
                                         metadata={"table": table})
            if current.structure() != plan.base.structure() or \
                    (current.row_count == 0) != (plan.base.row_count == 0):
                raise Aborted(f"table {table} changed since the migration was planned; plan again",
                              reason="TABLE_CHANGED", metadata={"table": table})
            key = current.primary_key or plan.target.id_column.name
            for step in steps:
                _check_data(con, table, key, step, current.row_count)
            for step in steps:
                progress.append(step)
                for statement in alter_statements(table, step, not_null=self._pool.keys_enforced):
                    con.execute(statement)
            after = state_after(plan, steps)
            catalog.record(con, after, plan.target.schema_id)
            published.append(read_layout(con, table))
            return after

        def translate(error: Exception) -> Exception:
            if isinstance(error, DomainError):
                return error
            step = progress[-1].describe() if progress else "before the first step"
            log.error("migration failed and was rolled back", extra={"table": table, "step": step,
                                                                     "error": str(error)[:500]})
            if isinstance(error, duckdb.Error):
                return FailedPrecondition(
                    f"the database refused the migration of {table} at step {step.split(':')[0]}; "
                    "nothing was changed", reason="MIGRATION_FAILED", metadata={"table": table})
            return opaque_error(error)

        return self._run_ddl(table, migrate, timeout, translate)

    def migrates_automatically(self) -> bool:
        return self._leads is None or self._leads()

    def drop(self, table: str, timeout: float | None = None) -> bool:
        """Drops the table and its catalog row; False when it does not exist."""

        def drop(con: duckdb.DuckDBPyConnection, published: list[Layout]) -> bool:
            if not table_exists(con, table):
                return False
            state = catalog.read_state(con, table, recorded_required=True) if self._changes is not None else None
            keys = [c.name for c in state.columns if c.primary_key] if state is not None else []
            if self._changes is not None and keys:
                self._changes.log(con, table, ChangeType.DELETED, keys[0], quote_identifier(table),
                                  before=read_layout(con, table).columns)
            con.execute(drop_table_sql(table))
            catalog.forget(con, table)
            published.append(catalog.MISSING)
            return True

        dropped = bool(self._run_ddl(table, drop, timeout))
        if dropped and self._coordinator is not None:
            self._coordinator.forget(table)  # its ids are free again
        return dropped


def _check_data(con: duckdb.DuckDBPyConnection, table: str, key: str, step: MigrationStep, rows: int) -> None:
    """Refuses a step the data does not allow, naming the first offending rows."""
    column = quote_identifier(step.column)
    if step.action is StepAction.ADD_COLUMN and step.target is not None and step.target.required \
            and step.target.default is None and rows:
        raise FailedPrecondition(
            f"column {step.column} is required and has no default, but {table} has {rows} rows",
            reason="NEEDS_DEFAULT", metadata={"table": table, "column": step.column},
            violations=[FieldViolation(step.column, "required, without a default, on a non-empty table",
                                       "NEEDS_DEFAULT")])
    if step.action is StepAction.SET_NOT_NULL:
        _refuse_rows(con, table, key, step, f"{column} IS NULL", "has no value", "MISSING_VALUE")
    if step.action is StepAction.ALTER_TYPE and step.from_type is not None and step.to_type is not None:
        old, new = step.from_type, step.to_type
        converted = f"TRY_CAST({column} AS {new.sql})"
        bad = [f"{converted} IS NULL"]
        if old.kind is not TypeKind.STRING:  # converting and back must give the same value: no rounding
            bad.append(f"CAST({converted} AS {old.sql}) <> {column}")
        if new.kind is TypeKind.STRING and new.length is not None:  # DuckDB does not enforce lengths
            bad.append(f"length(CAST({column} AS VARCHAR)) > {int(new.length)}")
        _refuse_rows(con, table, key, step, f"{column} IS NOT NULL AND ({' OR '.join(bad)})",
                     f"does not convert to {new.sql}", "VALUE_DOES_NOT_CONVERT")


def _refuse_rows(con: duckdb.DuckDBPyConnection, table: str, key: str, step: MigrationStep, condition: str,
                 problem: str, reason: str) -> None:
    source = f"FROM {quote_identifier(table)} WHERE {condition}"
    count = first_row(con.execute(f"SELECT count(*) {source}"))
    if not count or not count[0]:
        return
    first = [str(row[0]) for row in con.execute(
        f"SELECT CAST({quote_identifier(key)} AS VARCHAR) {source} ORDER BY {quote_identifier(key)} "
        f"LIMIT {FIRST_ROWS}").fetchall()]
    names = [f"{table}/{row_id}" for row_id in first]
    raise FailedPrecondition(
        f"{count[0]} row(s) of {table} block {step.action.value} {step.column}: the value {problem} "
        f"(first: {', '.join(names)}); nothing was changed", reason=reason,
        metadata={"table": table, "column": step.column, "rows": ",".join(first)},
        violations=[FieldViolation(name, f"{step.column} {problem}", reason) for name in names])
