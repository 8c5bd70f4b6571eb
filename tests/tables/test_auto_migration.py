"""AUTO_MIGRATE=additive: a refreshed schema's safe steps apply by themselves; destructive ones wait."""

from __future__ import annotations

from pathlib import Path

import grpc
from duckdb_spawn.v1 import admin_service_pb2 as admin_pb
from duckdb_spawn.v1 import monitoring_service_pb2 as monitoring_pb
from duckdb_spawn.v1 import project_service_pb2 as pb

from tests.support.ontology import get_schema, running_ontology, schema_cache_check
from tests.support.rpc import create_request
from tests.support.servers import wait_until
from tests.tables.conftest import Migrating, document, start_migrating

A = admin_pb


def _create_with_sponsor(migrating: Migrating) -> pb.Project | None:
    try:
        return migrating.stubs.projects.CreateProject(create_request(sponsor="ACME"), timeout=10)
    except grpc.RpcError as error:  # not yet: the field is unknown to the schema in force
        assert error.code() in (grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.ABORTED), error.details()
        return None


def test_an_added_column_is_migrated_within_the_ttl_and_usable_at_once(tmp_path: Path) -> None:
    with running_ontology(tmp_path / "ontology", document("v1")) as ontology, \
            start_migrating(tmp_path, ontology, ONTO_CACHE_TTL="0.3", AUTO_MIGRATE="additive") as migrating:
        assert _create_with_sponsor(migrating) is None
        ontology.write(document("v2", extra=[{"name": "sponsor", "type": "VARCHAR"},
                                             {"name": "region", "type": "VARCHAR", "required": True,
                                              "default": "EU"}]))
        # No restart, no admin call: the next refresh migrates the table, then the schema comes into force.
        project = wait_until(lambda: _create_with_sponsor(migrating), 15, "a create using the new field")
        assert project.schema_version == "v2"
        assert project.attributes["sponsor"] == "ACME" and project.attributes["region"] == "EU"
        table = migrating.table()
        assert table.in_sync and table.schema_version == "v2" and not table.pending_steps
        for before in migrating.projects:  # older rows read with the new columns
            after = migrating.stubs.projects.GetProject(pb.GetProjectRequest(name=before.name))
            assert after.attributes["region"] == "EU" and after.attributes["sponsor"] is None
            assert {k: v for k, v in after.attributes.items() if k not in ("region", "sponsor")} == \
                dict(before.attributes)
        assert migrating.metric("duckdb_table_operations_total", operation="auto_migrate", status="success") >= 1


def test_destructive_changes_are_never_automatic_and_show_as_pending(tmp_path: Path) -> None:
    with running_ontology(tmp_path / "ontology", document("v1")) as ontology, \
            start_migrating(tmp_path, ontology, AUTO_MIGRATE="additive") as migrating:
        table_before = migrating.table()
        result = migrating.publish(document("v2", drop=("legacy_code",), total_amount={"type": "DECIMAL(10,2)"},
                                            extra=[{"name": "sponsor", "type": "VARCHAR"}]))
        assert result.outcome == A.REFRESH_OUTCOME_UPDATED
        assert [(s.action, s.column) for s in result.applied_steps] == [(A.STEP_ACTION_ADD_COLUMN, "sponsor")]
        pending = [(s.action, s.column, s.safety) for s in result.pending_steps]
        assert pending == [(A.STEP_ACTION_ALTER_TYPE, "total_amount", A.STEP_SAFETY_DESTRUCTIVE),
                           (A.STEP_ACTION_DROP_COLUMN, "legacy_code", A.STEP_SAFETY_DESTRUCTIVE)]
        table = migrating.table()
        assert not table.in_sync and [(s.action, s.column, s.safety) for s in table.pending_steps] == pending
        types = {c.name: c.type for c in table.columns}
        assert types["legacy_code"] == "VARCHAR" and types["total_amount"] == "DECIMAL(20,2)"  # untouched
        assert table.row_count == table_before.row_count
        check = schema_cache_check(migrating.stubs)
        assert check.status == monitoring_pb.HEALTH_STATUS_DEGRADED
        assert "migration pending on table projects" in check.message
        assert len(check.observed["pending_migrations"]["projects"]) == 2
        # Writes go on under the new schema meanwhile; nothing is lost from the old rows.
        assert migrating.stubs.projects.CreateProject(create_request(sponsor="ACME")).schema_version == "v2"
        assert get_schema(migrating.stubs).version == "v2"

        migrating.update(force=True)
        assert migrating.table().in_sync
        wait_until(lambda: schema_cache_check(migrating.stubs).status == monitoring_pb.HEALTH_STATUS_HEALTHY, 10,
                   "health HEALTHY once the migration is applied")
