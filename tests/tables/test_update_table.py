"""UpdateTable: every kind of step is planned, dry-run, applied or refused, with the rows intact."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import grpc
import pytest
from duckdb_spawn.v1 import admin_service_pb2 as admin_pb
from duckdb_spawn.v1 import project_service_pb2 as pb

from tests.support.rpc import call_error, create_request
from tests.tables.conftest import Migrating, document

SAFE, NEEDS_DEFAULT, DESTRUCTIVE = (admin_pb.STEP_SAFETY_SAFE, admin_pb.STEP_SAFETY_NEEDS_DEFAULT,
                                    admin_pb.STEP_SAFETY_DESTRUCTIVE)
A = admin_pb


@dataclass
class Case:
    doc: dict[str, Any]
    steps: list[tuple[int, str, int]]  # (action, column, safety)
    # How each project's attributes read afterwards, from how they read before.
    expect: Callable[[dict[str, Any]], dict[str, Any]]
    new_attributes: dict[str, Any] = field(default_factory=dict)  # a create that needs the migration
    column_type: tuple[str, str] | None = None  # (column, type) in GetTable afterwards
    blocks_writes: bool = True  # new_attributes cannot be stored until the migration is applied


def _with(**values: Any) -> Callable[[dict[str, Any]], dict[str, Any]]:
    return lambda before: {**before, **values}


def _without(name: str) -> Callable[[dict[str, Any]], dict[str, Any]]:
    return lambda before: {k: v for k, v in before.items() if k != name}


CASES = {
    "add nullable": Case(document("v2", extra=[{"name": "sponsor", "type": "VARCHAR"}]),
                         [(A.STEP_ACTION_ADD_COLUMN, "sponsor", SAFE)], _with(sponsor=None),
                         {"sponsor": "ACME"}, ("sponsor", "VARCHAR")),
    "add required with default": Case(
        document("v2", extra=[{"name": "region", "type": "VARCHAR", "required": True, "default": "EU"}]),
        [(A.STEP_ACTION_ADD_COLUMN, "region", SAFE)], _with(region="EU"), {"region": "US"}, ("region", "VARCHAR")),
    "widen VARCHAR": Case(document("v2", description={"type": "VARCHAR"}),
                          [(A.STEP_ACTION_ALTER_TYPE, "description", SAFE)], _with(),
                          {"description": "x" * 500}, ("description", "VARCHAR"),
                          blocks_writes=False),  # DuckDB stores VARCHAR(n) as VARCHAR: only the rule changes
    "widen DECIMAL": Case(document("v2", total_amount={"type": "DECIMAL(24,2)"}),
                          [(A.STEP_ACTION_ALTER_TYPE, "total_amount", SAFE)], _with(),
                          {"total_amount": "1234567890123456789012.50"}, ("total_amount", "DECIMAL(24,2)")),
    "INTEGER to BIGINT": Case(document("v2", maturity_years={"type": "BIGINT"}),
                              [(A.STEP_ACTION_ALTER_TYPE, "maturity_years", SAFE)], _with(),
                              {"maturity_years": str(2**40)}, ("maturity_years", "BIGINT")),
    "drop": Case(document("v2", drop=("legacy_code",)), [(A.STEP_ACTION_DROP_COLUMN, "legacy_code", DESTRUCTIVE)],
                 _without("legacy_code")),
    "narrow": Case(document("v2", total_amount={"type": "DECIMAL(10,2)"}),
                   [(A.STEP_ACTION_ALTER_TYPE, "total_amount", DESTRUCTIVE)], _with(),
                   column_type=("total_amount", "DECIMAL(10,2)")),
    "incompatible change": Case(
        document("v2", drop=("internal_rating",), extra=[{"name": "internal_rating", "type": "INTEGER"}]),
        [(A.STEP_ACTION_ALTER_TYPE, "internal_rating", DESTRUCTIVE)],
        lambda before: {**before, "internal_rating": float(before["internal_rating"])},
        {"internal_rating": 3}, ("internal_rating", "INTEGER")),
}


def _attributes(project: pb.Project) -> dict[str, Any]:
    return dict(project.attributes)


@pytest.mark.parametrize("label", list(CASES))
def test_each_step_kind_is_planned_dry_run_and_applied_or_refused(migrating: Migrating, label: str) -> None:
    case = CASES[label]
    before = {p.name: _attributes(p) for p in migrating.all_projects()}
    table_before = migrating.table()
    assert table_before.in_sync and not table_before.pending_steps

    refresh = migrating.publish(case.doc)
    assert refresh.outcome == A.REFRESH_OUTCOME_UPDATED and refresh.version == "v2"
    assert [(s.action, s.column, s.safety) for s in refresh.pending_steps] == case.steps  # AUTO_MIGRATE=off

    pending = migrating.table()
    assert not pending.in_sync and [(s.action, s.column, s.safety) for s in pending.pending_steps] == case.steps
    plan = migrating.update(dry_run=True)
    assert [(s.action, s.column, s.safety) for s in plan.steps] == case.steps
    assert all(s.reason for s in plan.steps) and not plan.applied
    assert migrating.table() == pending  # a dry run changes nothing
    if case.new_attributes and case.blocks_writes:  # refused until the migration is applied, not mangled
        refused = call_error(migrating.stubs.projects.CreateProject, create_request(**case.new_attributes))
        assert refused.code == grpc.StatusCode.FAILED_PRECONDITION and refused.error_info.reason == \
            "TABLE_NOT_MIGRATED"

    destructive = any(safety == DESTRUCTIVE for _, _, safety in case.steps)
    if destructive:
        refused = call_error(migrating.update)
        assert refused.code == grpc.StatusCode.FAILED_PRECONDITION
        assert refused.error_info.reason == "DESTRUCTIVE_MIGRATION"
        assert migrating.table() == pending
    operations = migrating.metric("duckdb_table_operations_total", operation="update", status="success")
    applied = migrating.update(force=destructive)
    assert applied.applied and applied.table.in_sync and not applied.table.pending_steps
    assert applied.table.schema_version == "v2" and applied.table.row_count == len(before)
    assert migrating.metric("duckdb_table_operations_total", operation="update", status="success") == operations + 1
    if case.column_type:
        assert {c.name: c.type for c in applied.table.columns}[case.column_type[0]] == case.column_type[1]

    # Every row is intact and readable, one by one and listed; new writes use the new schema.
    for name, attributes in before.items():
        project = migrating.stubs.projects.GetProject(pb.GetProjectRequest(name=name))
        assert _attributes(project) == case.expect(attributes), name
        assert project.schema_version == "v1"  # the version that validated it
    assert {p.name: _attributes(p) for p in migrating.all_projects()} == {
        name: case.expect(attributes) for name, attributes in before.items()}
    created = migrating.stubs.projects.CreateProject(create_request(**case.new_attributes))
    assert created.schema_version == "v2"
    for key, value in case.new_attributes.items():  # integers up to 2^53 come back as numbers
        assert str(created.attributes[key]).removesuffix(".0") == str(value)
    assert migrating.stubs.projects.GetProject(pb.GetProjectRequest(name=created.name)) == created


def test_a_required_column_without_default_on_a_non_empty_table_is_refused_naming_it(
        migrating: Migrating) -> None:
    table_before = migrating.table()
    migrating.publish(document("v2", extra=[{"name": "sponsor", "type": "VARCHAR", "required": True}]))
    plan = migrating.update(dry_run=True)
    assert [(s.action, s.column, s.safety) for s in plan.steps] == [(A.STEP_ACTION_ADD_COLUMN, "sponsor",
                                                                     NEEDS_DEFAULT)]
    for force in (False, True):
        error = call_error(migrating.update, force=force)
        assert error.code == grpc.StatusCode.FAILED_PRECONDITION
        assert error.error_info.reason == "NEEDS_DEFAULT" and "sponsor" in error.message
        assert [v.subject for v in error.precondition.violations] == ["sponsor"]
    table_after = migrating.table()
    assert table_after.columns == table_before.columns and table_after.row_count == table_before.row_count


def test_making_a_column_required_applies_only_when_no_row_lacks_a_value(migrating: Migrating) -> None:
    empty_description = migrating.stubs.projects.CreateProject(create_request(description=None))
    migrating.publish(document("v2", description={"required": True}))
    error = call_error(migrating.update)
    assert error.code == grpc.StatusCode.FAILED_PRECONDITION and error.error_info.reason == "MISSING_VALUE"
    assert [v.subject for v in error.precondition.violations] == [empty_description.name]
    migrating.stubs.projects.DeleteProject(pb.DeleteProjectRequest(name=empty_description.name))
    assert migrating.update().applied
    assert {c.name: c.required for c in migrating.table().columns}["description"] is True


def test_a_schema_given_in_the_request_is_planned_without_touching_the_ontology(migrating: Migrating) -> None:
    import json

    given = json.dumps(document("v9", extra=[{"name": "sponsor", "type": "VARCHAR"}]))
    plan = migrating.update(schema_json=given, dry_run=True)
    assert [(s.action, s.column) for s in plan.steps] == [(A.STEP_ACTION_ADD_COLUMN, "sponsor")]
    for bad, reason in [("{", "INVALID_SCHEMA"), (json.dumps({**document("v9"), "name": "other_table"}),
                                                  "INVALID_SCHEMA")]:
        error = call_error(migrating.update, schema_json=bad, dry_run=True)
        assert error.code == grpc.StatusCode.INVALID_ARGUMENT and error.error_info.reason == reason
        assert all(v.field == "schema_json" for v in error.bad_request.field_violations)
