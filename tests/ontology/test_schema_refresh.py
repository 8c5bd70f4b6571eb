"""The schema cache against a real ontology server: TTL refresh, 304s, outages, rejected documents."""

from __future__ import annotations

import logging

import grpc
import pytest
from duckdb_spawn.v1 import admin_service_pb2 as admin_pb
from duckdb_spawn.v1 import monitoring_service_pb2 as monitoring_pb
from duckdb_spawn.v1 import project_service_pb2 as pb

from tests.support.ontology import Ontology, get_schema, overall_health, project_document, schema_cache_check
from tests.support.rpc import call_error, create_request
from tests.support.servers import InProcessServer, Stubs, wait_until

HEALTHY = monitoring_pb.HEALTH_STATUS_HEALTHY
DEGRADED = monitoring_pb.HEALTH_STATUS_DEGRADED
ENUM_WITH_ON_HOLD = {"status": {"enum": ["PROPOSED", "ACTIVE", "COMPLETED", "ON_HOLD"]}}


def _creates_on_hold(stubs: Stubs) -> pb.Project | None:
    try:
        return stubs.projects.CreateProject(create_request(status="ON_HOLD"), timeout=10)
    except grpc.RpcError as error:
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, error.details()
        return None


def test_a_schema_change_reaches_validation_within_the_ttl_and_unchanged_ones_get_304(
        served: tuple[InProcessServer, Stubs], ontology: Ontology) -> None:
    _, stubs = served
    before = stubs.projects.CreateProject(create_request())
    assert before.schema_version == "v1"
    assert call_error(stubs.projects.CreateProject, create_request(status="ON_HOLD")).violations == {
        "attributes.status": "NOT_IN_ENUM"}
    # Unchanged: the cache revalidates with If-None-Match and the server answers 304.
    wait_until(lambda: ontology.count(status=304) >= 2, 10, "two 304 revalidations")
    assert get_schema(stubs).source == admin_pb.SCHEMA_SOURCE_SERVER

    ontology.write(project_document("v2", **ENUM_WITH_ON_HOLD))  # no restart, no admin call
    project = wait_until(lambda: _creates_on_hold(stubs), 10, "the new enum value to be accepted")
    assert project.schema_version == "v2"
    assert project.attributes["status"] == "ON_HOLD"
    assert get_schema(stubs).version == "v2"
    # Rows written under v1 keep their version and stay readable.
    assert stubs.projects.GetProject(pb.GetProjectRequest(name=before.name)) == before


def test_an_outage_mid_run_serves_the_stale_schema_then_recovers(served: tuple[InProcessServer, Stubs],
                                                                  ontology: Ontology) -> None:
    _, stubs = served
    assert schema_cache_check(stubs).status == HEALTHY
    ontology.stop()
    wait_until(lambda: schema_cache_check(stubs).status == DEGRADED, 10, "health DEGRADED during the outage")
    assert overall_health(stubs) == DEGRADED
    check = schema_cache_check(stubs)
    assert "ontology server unreachable" in check.message
    schema = get_schema(stubs)
    assert schema.source == admin_pb.SCHEMA_SOURCE_CACHE and schema.version == "v1"
    assert "ontology server" in schema.last_error
    # The stale schema keeps serving reads and writes.
    assert stubs.projects.CreateProject(create_request(), timeout=10).schema_version == "v1"
    refresh = stubs.admin.RefreshSchemas(admin_pb.RefreshSchemasRequest(), timeout=10).results[0]
    assert refresh.outcome == admin_pb.REFRESH_OUTCOME_FAILED and refresh.version == "v1"

    ontology.restart()
    wait_until(lambda: schema_cache_check(stubs).status == HEALTHY, 15, "health HEALTHY after recovery")
    recovered = get_schema(stubs)
    assert recovered.source == admin_pb.SCHEMA_SOURCE_SERVER and recovered.last_error == ""
    assert overall_health(stubs) == HEALTHY


INJECTION_IDENTIFIER = 'x"; DROP TABLE projects; --'
INJECTION_TYPE = "VARCHAR); DROP TABLE projects; --"
BAD_DOCUMENTS = {
    "garbage JSON": '{"name": "projects", "columns": [ {"name": ',
    "not JSON at all": "<html>502 Bad Gateway</html>",
    "unknown type": project_document("v2", extra_columns=[{"name": "sponsor", "type": "MONEY"}]),
    "identifier injection": project_document("v2", extra_columns=[{"name": INJECTION_IDENTIFIER,
                                                                   "type": "VARCHAR"}]),
    "table name injection": {**project_document("v2"), "name": INJECTION_IDENTIFIER},
    "type injection": project_document("v2", extra_columns=[{"name": "sponsor", "type": INJECTION_TYPE}]),
    "JSON Schema with a type injection": {
        "$schema": "https://json-schema.org/draft/2020-12/schema", "x-duckdb-table": "projects",
        "type": "object", "properties": {"project_id": {"type": "string", "format": "uuid"},
                                         "sponsor": {"type": "string", "x-duckdb-type": INJECTION_TYPE}}},
}


@pytest.mark.parametrize("label", list(BAD_DOCUMENTS))
def test_a_bad_document_is_rejected_and_the_previous_schema_and_data_stay(
        served: tuple[InProcessServer, Stubs], ontology: Ontology, caplog: pytest.LogCaptureFixture,
        label: str) -> None:
    server, stubs = served
    created = [stubs.projects.CreateProject(create_request(project_name=f"p{i}")) for i in range(3)]
    table_before = stubs.admin.GetTable(admin_pb.GetTableRequest(name="tables/projects"))
    registry = server.app.metrics.registry
    rejections = registry.get_sample_value("ontology_schema_rejections_total", {"schema_id": "project_schema"}) or 0

    ontology.write(BAD_DOCUMENTS[label])
    with caplog.at_level(logging.ERROR, logger="duckdb_spawn_server"):
        result = stubs.admin.RefreshSchemas(admin_pb.RefreshSchemasRequest(names=["schemas/project_schema"]),
                                            timeout=10).results[0]
    assert result.outcome == admin_pb.REFRESH_OUTCOME_FAILED
    assert result.message.startswith("schema rejected") and result.version == "v1"
    assert any(r.getMessage().startswith("ontology schema rejected") for r in caplog.records)
    # (the background refresher may have met the document too)
    assert registry.get_sample_value("ontology_schema_rejections_total",
                                     {"schema_id": "project_schema"}) >= rejections + 1
    schema = get_schema(stubs)
    assert schema.version == "v1" and schema.last_error.startswith("schema rejected")
    assert schema_cache_check(stubs).status == DEGRADED
    # The database is untouched: same table, same rows; validation still uses v1.
    assert stubs.admin.GetTable(admin_pb.GetTableRequest(name="tables/projects")) == table_before
    for project in created:
        assert stubs.projects.GetProject(pb.GetProjectRequest(name=project.name)) == project
    assert stubs.projects.CreateProject(create_request()).schema_version == "v1"
    assert stubs.projects.ListProjects(pb.ListProjectsRequest()).total_size == 4

    ontology.write(project_document("v1"))  # fixed upstream: the next refresh clears the error
    fixed = stubs.admin.RefreshSchemas(admin_pb.RefreshSchemasRequest(), timeout=10).results[0]
    assert fixed.outcome == admin_pb.REFRESH_OUTCOME_UNCHANGED
    assert get_schema(stubs).last_error == ""


def test_schema_names_are_checked(served: tuple[InProcessServer, Stubs]) -> None:
    _, stubs = served
    for call, request in [
        (stubs.admin.GetSchema, admin_pb.GetSchemaRequest(name="schemas/other_schema")),
        (stubs.admin.RefreshSchemas, admin_pb.RefreshSchemasRequest(names=["schemas/other_schema"])),
    ]:
        error = call_error(call, request)
        assert error.code == grpc.StatusCode.NOT_FOUND and error.error_info.reason == "SCHEMA_NOT_HOSTED"
    for name in ["project_schema", "schemas/", "schemas/../x", 'schemas/a"b']:
        bad = call_error(stubs.admin.RefreshSchemas, admin_pb.RefreshSchemasRequest(names=[name]))
        assert bad.code == grpc.StatusCode.INVALID_ARGUMENT and bad.violations == {"names[0]": "INVALID_NAME"}
        bad = call_error(stubs.admin.GetSchema, admin_pb.GetSchemaRequest(name=name))
        assert bad.code == grpc.StatusCode.INVALID_ARGUMENT and bad.violations == {"name": "INVALID_NAME"}
