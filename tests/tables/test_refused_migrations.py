"""Refused and failed migrations leave the table exactly as it was: same rows, same values, same columns."""

from __future__ import annotations

import grpc
import pytest
from duckdb_spawn.v1 import admin_service_pb2 as admin_pb
from duckdb_spawn.v1 import project_service_pb2 as pb
from duckdb_spawn_server.storage import tables as storage_tables

from tests.api.test_invalid_input import assert_clean
from tests.support.rpc import call_error, create_request
from tests.tables.conftest import Migrating, document


def _snapshot(migrating: Migrating) -> tuple[list[pb.Project], list[admin_pb.Column], int]:
    table = migrating.table()
    return migrating.all_projects(), list(table.columns), table.row_count


def test_a_forced_narrowing_that_rows_violate_is_refused_naming_them(migrating: Migrating) -> None:
    big = migrating.stubs.projects.CreateProject(create_request(total_amount="7654321.00"))
    before = _snapshot(migrating)
    migrating.publish(document("v2", total_amount={"type": "DECIMAL(8,2)"}))  # at most 999999.99

    error = call_error(migrating.update, force=True)
    assert error.code == grpc.StatusCode.FAILED_PRECONDITION
    assert error.error_info.reason == "VALUE_DOES_NOT_CONVERT"
    offenders = sorted([big.name, migrating.projects[0].name])  # 7654321.00 and 1250000.50
    assert [v.subject for v in error.precondition.violations] == offenders
    assert "2 row(s)" in error.message and "nothing was changed" in error.message
    assert error.error_info.metadata["column"] == "total_amount"
    assert _snapshot(migrating) == before  # every row and value, and the table's columns, as they were
    assert migrating.metric("duckdb_table_operations_total", operation="update", status="refused") == 1

    # Once the offending rows are gone, the same forced migration applies.
    for name in offenders:
        migrating.stubs.projects.DeleteProject(pb.DeleteProjectRequest(name=name))
    assert migrating.update(force=True).applied
    assert {c.name: c.type for c in migrating.table().columns}["total_amount"] == "DECIMAL(8,2)"


def test_an_incompatible_change_is_refused_when_a_value_does_not_convert(migrating: Migrating) -> None:
    letter = migrating.stubs.projects.CreateProject(create_request(internal_rating="A+"))
    before = _snapshot(migrating)
    migrating.publish(document("v2", drop=("internal_rating",), extra=[{"name": "internal_rating",
                                                                       "type": "INTEGER"}]))
    error = call_error(migrating.update, force=True)
    assert error.error_info.reason == "VALUE_DOES_NOT_CONVERT"
    assert [v.subject for v in error.precondition.violations] == [letter.name]
    assert _snapshot(migrating) == before


def test_a_migration_that_fails_midway_is_rolled_back_entirely(migrating: Migrating,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    migrating.publish(document("v2", maturity_years={"type": "BIGINT"},
                               extra=[{"name": "sponsor", "type": "VARCHAR"}]))
    before = _snapshot(migrating)
    real = storage_tables.alter_statements

    def failing_last_step(table: str, step, **options):  # type: ignore[no-untyped-def]
        statements = real(table, step, **options)
        if step.column == "sponsor":  # the last step: the earlier ALTER has already run in the transaction
            statements.append(f'ALTER TABLE "{table}" ALTER COLUMN "no_such_column" SET NOT NULL')
        return statements

    monkeypatch.setattr(storage_tables, "alter_statements", failing_last_step)
    error = call_error(migrating.update)
    assert error.code == grpc.StatusCode.FAILED_PRECONDITION and error.error_info.reason == "MIGRATION_FAILED"
    assert_clean(error)  # no SQL, no DuckDB message
    assert _snapshot(migrating) == before
    assert {c.name: c.type for c in migrating.table().columns}["maturity_years"] == "INTEGER"
    # The writes of the old schema's rows still land correctly (the cached layout was not touched).
    assert call_error(migrating.stubs.projects.CreateProject, create_request(sponsor="x")).error_info.reason == \
        "TABLE_NOT_MIGRATED"

    monkeypatch.setattr(storage_tables, "alter_statements", real)
    assert migrating.update().applied
    created = migrating.stubs.projects.CreateProject(create_request(sponsor="x", maturity_years=str(2**40)))
    assert migrating.stubs.projects.GetProject(pb.GetProjectRequest(name=created.name)) == created
