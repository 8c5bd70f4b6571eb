"""The migration planner: which steps a schema change needs, in which order, and how risky each is."""

from __future__ import annotations

from typing import Any

import pytest
from duckdb_spawn_server.domain.errors import FailedPrecondition
from duckdb_spawn_server.domain.migration import (
    StepAction,
    StepSafety,
    is_widening,
    plan_migration,
    state_after,
    state_of_new_table,
)
from duckdb_spawn_server.domain.types import parse_type
from duckdb_spawn_server.ontology.seed_format import parse_seed_schema

BASE_COLUMNS: list[dict[str, Any]] = [
    {"name": "id", "type": "UUID", "required": True},
    {"name": "title", "type": "VARCHAR(40)", "required": True},
    {"name": "amount", "type": "DECIMAL(10,2)"},
    {"name": "years", "type": "INTEGER"},
    {"name": "note", "type": "VARCHAR"},
]


def schema(*changes: tuple[str, dict[str, Any] | None], extra: list[dict[str, Any]] | None = None):  # type: ignore[no-untyped-def]
    """The base schema with columns changed (dict) or removed (None), plus extra columns."""
    edits = dict(changes)
    columns = []
    for column in BASE_COLUMNS:
        if column["name"] in edits:
            if edits[column["name"]] is None:
                continue
            column = {**column, **edits[column["name"]]}  # type: ignore[dict-item]
        columns.append(column)
    return parse_seed_schema("s", {"name": "t", "columns": columns + (extra or [])})


def table(rows: int = 3):  # type: ignore[no-untyped-def]
    from dataclasses import replace

    return replace(state_of_new_table(schema()), row_count=rows)


def steps(target, rows: int = 3) -> list[tuple[StepAction, str, StepSafety]]:  # type: ignore[no-untyped-def]
    return [(s.action, s.column, s.safety) for s in plan_migration(table(rows), target).steps]


def test_an_unchanged_schema_needs_no_step() -> None:
    assert plan_migration(table(), schema()).empty


@pytest.mark.parametrize(("target", "expected"), [
    (schema(extra=[{"name": "sponsor", "type": "VARCHAR"}]),
     [(StepAction.ADD_COLUMN, "sponsor", StepSafety.SAFE)]),
    (schema(extra=[{"name": "region", "type": "VARCHAR", "required": True, "default": "EU"}]),
     [(StepAction.ADD_COLUMN, "region", StepSafety.SAFE)]),
    (schema(extra=[{"name": "region", "type": "VARCHAR", "required": True}]),
     [(StepAction.ADD_COLUMN, "region", StepSafety.NEEDS_DEFAULT)]),
    (schema(("title", {"type": "VARCHAR"})), [(StepAction.ALTER_TYPE, "title", StepSafety.SAFE)]),
    (schema(("title", {"type": "VARCHAR(80)"})), [(StepAction.ALTER_TYPE, "title", StepSafety.SAFE)]),
    (schema(("amount", {"type": "DECIMAL(14,2)"})), [(StepAction.ALTER_TYPE, "amount", StepSafety.SAFE)]),
    (schema(("years", {"type": "BIGINT"})), [(StepAction.ALTER_TYPE, "years", StepSafety.SAFE)]),
    (schema(("note", None)), [(StepAction.DROP_COLUMN, "note", StepSafety.DESTRUCTIVE)]),
    (schema(("title", {"type": "VARCHAR(20)"})), [(StepAction.ALTER_TYPE, "title", StepSafety.DESTRUCTIVE)]),
    (schema(("amount", {"type": "DECIMAL(8,2)"})), [(StepAction.ALTER_TYPE, "amount", StepSafety.DESTRUCTIVE)]),
    (schema(("amount", {"type": "DECIMAL(10,1)"})), [(StepAction.ALTER_TYPE, "amount", StepSafety.DESTRUCTIVE)]),
    (schema(("years", {"type": "SMALLINT"})), [(StepAction.ALTER_TYPE, "years", StepSafety.DESTRUCTIVE)]),
    (schema(("note", {"type": "INTEGER"})), [(StepAction.ALTER_TYPE, "note", StepSafety.DESTRUCTIVE)]),
    (schema(("title", {"required": False})), [(StepAction.DROP_NOT_NULL, "title", StepSafety.SAFE)]),
    (schema(("note", {"required": True})), [(StepAction.SET_NOT_NULL, "note", StepSafety.NEEDS_DEFAULT)]),
    (schema(("note", {"default": "n/a"})), [(StepAction.SET_DEFAULT, "note", StepSafety.SAFE)]),
    (schema(("title", None)), [(StepAction.DROP_NOT_NULL, "title", StepSafety.SAFE),
                               (StepAction.DROP_COLUMN, "title", StepSafety.DESTRUCTIVE)]),
], ids=["add nullable", "add required with default", "add required without default", "widen VARCHAR(n)",
        "lengthen VARCHAR(n)", "widen DECIMAL", "INTEGER to BIGINT", "drop", "narrow VARCHAR", "narrow DECIMAL",
        "reduce scale", "narrow INTEGER", "incompatible change", "make optional", "make required",
        "set default", "drop a required column"])
def test_each_change_is_one_classified_step(target, expected) -> None:  # type: ignore[no-untyped-def]
    assert steps(target) == expected


def test_on_an_empty_table_required_columns_are_safe() -> None:
    target = schema(("note", {"required": True}), extra=[{"name": "region", "type": "VARCHAR", "required": True}])
    assert steps(target, rows=0) == [(StepAction.SET_NOT_NULL, "note", StepSafety.SAFE),
                                     (StepAction.ADD_COLUMN, "region", StepSafety.SAFE)]


def test_changing_the_identifier_cannot_be_planned() -> None:
    columns = [{"name": "key", "type": "UUID", "role": "id"}, *BASE_COLUMNS[1:]]
    with pytest.raises(FailedPrecondition) as caught:
        plan_migration(table(), parse_seed_schema("s", {"name": "t", "columns": columns}))
    assert caught.value.reason == "INCOMPATIBLE_IDENTIFIER"


def test_the_state_after_a_partial_plan_keeps_the_old_version() -> None:
    target = schema(("note", None), extra=[{"name": "sponsor", "type": "VARCHAR"}])
    plan = plan_migration(table(), target)
    safe = plan.with_safety(StepSafety.SAFE)
    partial = state_after(plan, safe)
    assert [c.name for c in partial.columns] == ["id", "title", "amount", "years", "note", "sponsor"]
    assert partial.schema_version == table().schema_version
    complete = state_after(plan, plan.steps)
    assert [c.name for c in complete.columns] == ["id", "title", "amount", "years", "sponsor"]
    assert complete.schema_version == target.version


@pytest.mark.parametrize(("old", "new", "widening"), [
    ("CHAR(3)", "VARCHAR", True), ("VARCHAR", "VARCHAR(10)", False), ("DECIMAL(5,2)", "DECIMAL(7,3)", True),
    ("DECIMAL(5,2)", "DECIMAL(6,3)", True), ("DECIMAL(5,2)", "DECIMAL(5,3)", False),
    ("UTINYINT", "SMALLINT", True), ("UINTEGER", "INTEGER", False),
    ("REAL", "DOUBLE", True), ("DOUBLE", "REAL", False), ("INTEGER", "DOUBLE", False), ("DATE", "TIMESTAMP", False),
])
def test_widening_means_every_value_fits(old: str, new: str, widening: bool) -> None:
    assert is_widening(parse_type(old), parse_type(new)) is widening
