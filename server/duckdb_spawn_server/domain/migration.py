"""Migration planning: the steps that turn a table into what a schema describes.

Pure logic, like the plan/diff phase of Atlas or Liquibase: `plan_migration`
compares a table as it is (`TableState`, read by storage) with a target
`TableSchema` and returns ordered steps, each classified:

- SAFE: applies without loss -- add a nullable column, add a required
  column that has a default, widen a type (VARCHAR(n) -> VARCHAR,
  DECIMAL(p,s) -> DECIMAL(p',s) with p' > p, INTEGER -> BIGINT, ...), relax
  NOT NULL, change a default. Also: make a column of an empty table required.
- NEEDS_DEFAULT: a required column without a default on a non-empty table
  (adding it is refused; making an existing column required applies only if
  no row lacks a value).
- DESTRUCTIVE: drop a column, narrow or change a type -- only with `force`,
  and only if every existing value converts.

Storage renders and applies the steps (storage/migrations.py); the planner
never sees SQL.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from enum import Enum
from typing import Any

from .errors import FailedPrecondition
from .schema import Column, ColumnRole, TableSchema
from .types import ColumnType, TypeKind
from .values import to_json_value


class StepAction(Enum):
    ADD_COLUMN = "add_column"
    DROP_COLUMN = "drop_column"
    ALTER_TYPE = "alter_type"
    SET_NOT_NULL = "set_not_null"
    DROP_NOT_NULL = "drop_not_null"
    SET_DEFAULT = "set_default"
    DROP_DEFAULT = "drop_default"


class StepSafety(Enum):
    SAFE = "safe"
    NEEDS_DEFAULT = "needs_default"
    DESTRUCTIVE = "destructive"


@dataclass(frozen=True)
class ExistingColumn:
    """A column of a table as it is: its logical type (as precise as known), NOT NULL, default."""

    name: str
    type: ColumnType
    required: bool
    default: Any = None  # typed, or None for no (known) default
    primary_key: bool = False


@dataclass(frozen=True)
class TableState:
    """A hosted table as storage found it (the service's `_` bookkeeping columns left out)."""

    table: str
    columns: tuple[ExistingColumn, ...]
    row_count: int
    schema_version: str = ""  # the version the table was last reconciled with
    schema_hash: str = ""

    def column(self, name: str) -> ExistingColumn | None:
        return next((c for c in self.columns if c.name == name), None)

    @property
    def primary_key(self) -> str | None:
        return next((c.name for c in self.columns if c.primary_key), None)

    def structure(self) -> tuple[tuple[str, str, bool], ...]:
        """What a plan depends on: names, types, nullability, in order."""
        return tuple((c.name, c.type.sql, c.required) for c in self.columns)


@dataclass(frozen=True)
class MigrationStep:
    action: StepAction
    column: str
    safety: StepSafety
    reason: str
    from_type: ColumnType | None = None
    to_type: ColumnType | None = None
    target: Column | None = None  # the column as the schema defines it (adds, defaults)

    def describe(self) -> str:
        return f"{self.action.value} {self.column} ({self.safety.value}): {self.reason}"


@dataclass(frozen=True)
class MigrationPlan:
    base: TableState
    target: TableSchema
    steps: tuple[MigrationStep, ...]

    @property
    def empty(self) -> bool:
        return not self.steps

    def with_safety(self, *safeties: StepSafety) -> tuple[MigrationStep, ...]:
        return tuple(s for s in self.steps if s.safety in safeties)


def plan_migration(state: TableState, target: TableSchema) -> MigrationPlan:
    """The ordered steps that reconcile `state` with `target` (empty when in sync)."""
    key = state.primary_key
    if key is not None and key != target.id_column.name:
        raise FailedPrecondition(
            f"table {state.table} is keyed by {key!r} but the schema's identifier is {target.id_column.name!r}; "
            "a table's identifier cannot change", reason="INCOMPATIBLE_IDENTIFIER",
            metadata={"table": state.table, "column": target.id_column.name})
    empty = state.row_count == 0
    steps: list[MigrationStep] = []
    adds: list[MigrationStep] = []
    for column in target.columns:
        existing = state.column(column.name)
        if existing is None:
            adds.append(_add(column, empty, state.row_count))
        elif column.role is not ColumnRole.ID:
            steps.extend(_changes(existing, column, empty))
    steps.extend(adds)
    for existing in state.columns:
        if target.column(existing.name) is None:
            if existing.required:  # so writes under the new schema work while the drop is pending
                steps.append(MigrationStep(StepAction.DROP_NOT_NULL, existing.name, StepSafety.SAFE,
                                           "the schema no longer has this column; it may be left empty"))
            steps.append(MigrationStep(StepAction.DROP_COLUMN, existing.name, StepSafety.DESTRUCTIVE,
                                       "the schema no longer has this column; dropping it deletes its values",
                                       from_type=existing.type))
    return MigrationPlan(state, target, tuple(steps))


def _add(column: Column, empty: bool, rows: int) -> MigrationStep:
    if not column.required:
        reason = "adds a nullable column" + (f" with default {_shown(column.default)}" if column.has_default else "")
        safety = StepSafety.SAFE
    elif column.has_default:
        reason = f"adds a required column; existing rows get its default {_shown(column.default)}"
        safety = StepSafety.SAFE
    elif empty:
        reason, safety = "adds a required column to an empty table", StepSafety.SAFE
    else:
        reason = f"adds a required column without a default to a table with {rows} rows: they would have no value"
        safety = StepSafety.NEEDS_DEFAULT
    return MigrationStep(StepAction.ADD_COLUMN, column.name, safety, reason, to_type=column.type, target=column)


def _changes(existing: ExistingColumn, column: Column, empty: bool) -> list[MigrationStep]:
    steps: list[MigrationStep] = []
    old, new = existing.type, column.type
    if old.sql != new.sql:
        if is_widening(old, new):
            steps.append(MigrationStep(StepAction.ALTER_TYPE, column.name, StepSafety.SAFE,
                                       f"widens {old.sql} to {new.sql}: every value fits", old, new, column))
        else:
            verb = "narrows" if old.kind is new.kind else "changes"
            steps.append(MigrationStep(
                StepAction.ALTER_TYPE, column.name, StepSafety.DESTRUCTIVE,
                f"{verb} {old.sql} to {new.sql}: values may not fit (applied only with force, "
                "after checking that every value converts)", old, new, column))
    if existing.required and not column.required:
        steps.append(MigrationStep(StepAction.DROP_NOT_NULL, column.name, StepSafety.SAFE,
                                   "the column becomes optional", target=column))
    if column.default != existing.default:
        if column.has_default:
            steps.append(MigrationStep(StepAction.SET_DEFAULT, column.name, StepSafety.SAFE,
                                       f"new rows default to {_shown(column.default)}", target=column))
        else:
            steps.append(MigrationStep(StepAction.DROP_DEFAULT, column.name, StepSafety.SAFE,
                                       "the column no longer has a default", target=column))
    if column.required and not existing.required:
        if empty:
            steps.append(MigrationStep(StepAction.SET_NOT_NULL, column.name, StepSafety.SAFE,
                                       "the column becomes required (the table is empty)", target=column))
        else:
            steps.append(MigrationStep(StepAction.SET_NOT_NULL, column.name, StepSafety.NEEDS_DEFAULT,
                                       "the column becomes required: applies only if no existing row lacks "
                                       "a value", target=column))
    return steps


def is_widening(old: ColumnType, new: ColumnType) -> bool:
    """True when every value of `old` is a value of `new` (the change cannot lose data)."""
    if old.kind is not new.kind:
        return False
    if old.kind is TypeKind.STRING:  # CHAR(n) holds what VARCHAR(n) holds
        return new.length is None or (old.length is not None and new.length >= old.length)
    if old.kind is TypeKind.DECIMAL:
        old_p, old_s, new_p, new_s = old.precision or 18, old.scale or 0, new.precision or 18, new.scale or 0
        return new_s >= old_s and new_p - new_s >= old_p - old_s
    if old.kind is TypeKind.INTEGER:
        old_low, old_high = old.integer_range or (0, 0)
        new_low, new_high = new.integer_range or (0, 0)
        return new_low <= old_low and old_high <= new_high
    if old.kind is TypeKind.FLOAT:
        return old.name == new.name or (old.name == "REAL" and new.name == "DOUBLE")
    return old.sql == new.sql


def state_after(plan: MigrationPlan, applied: Sequence[MigrationStep]) -> TableState:
    """The table's logical state once `applied` (a subset of the plan's steps) has been applied."""
    columns = {c.name: c for c in plan.base.columns}
    order = [c.name for c in plan.base.columns]
    for step in applied:
        current = columns.get(step.column)
        if step.action is StepAction.ADD_COLUMN and step.target is not None:
            target = step.target
            columns[target.name] = ExistingColumn(target.name, target.type, target.required, target.default)
            order.append(target.name)
        elif current is None:
            continue
        elif step.action is StepAction.DROP_COLUMN:
            del columns[step.column]
            order.remove(step.column)
        elif step.action is StepAction.ALTER_TYPE and step.to_type is not None:
            columns[step.column] = replace(current, type=step.to_type)
        elif step.action in (StepAction.SET_NOT_NULL, StepAction.DROP_NOT_NULL):
            columns[step.column] = replace(current, required=step.action is StepAction.SET_NOT_NULL)
        elif step.action in (StepAction.SET_DEFAULT, StepAction.DROP_DEFAULT):
            columns[step.column] = replace(current, default=step.target.default if step.target else None)
    complete = len(applied) == len(plan.steps)
    return TableState(
        plan.base.table, tuple(columns[name] for name in order), plan.base.row_count,
        plan.target.version if complete else plan.base.schema_version,
        plan.target.content_hash() if complete else plan.base.schema_hash)


def state_of_new_table(schema: TableSchema) -> TableState:
    """The logical state of a table just created from `schema`."""
    return TableState(schema.table_name, tuple(
        ExistingColumn(c.name, c.type, c.required or c.role is ColumnRole.ID, c.default, c.role is ColumnRole.ID)
        for c in schema.columns), 0, schema.version, schema.content_hash())


def _shown(value: Any) -> str:
    return repr(to_json_value(value))
