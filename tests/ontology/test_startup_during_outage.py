"""Start-up while the ontology server is down: the disk copy serves; without one, nothing is invented."""

from __future__ import annotations

from pathlib import Path

import duckdb
import grpc
from duckdb_spawn.v1 import admin_service_pb2 as admin_pb
from duckdb_spawn.v1 import monitoring_service_pb2 as monitoring_pb
from duckdb_spawn.v1 import project_service_pb2 as pb
from grpc_health.v1 import health_pb2

from tests.support.ontology import Ontology, get_schema, overall_health, schema_cache_check
from tests.support.rpc import call_error, create_request
from tests.support.servers import in_process_server, wait_until

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


def _env(ontology: Ontology) -> dict[str, str]:
    return {"USE_MOCK_ONTO_SERVER": "false", "ONTO_SERVER_URL": ontology.url, "ONTO_CACHE_TTL": "0.3",
            "ONTO_SERVER_TIMEOUT": "2"}


def test_a_cold_start_during_an_outage_serves_the_disk_copy_degraded(tmp_path: Path, ontology: Ontology) -> None:
    db = tmp_path / "data" / "db.duckdb"
    with in_process_server(db, **_env(ontology)) as (_, stubs):
        created = stubs.projects.CreateProject(create_request())
    assert (tmp_path / "data" / "db.duckdb.schemas" / "project_schema.json").is_file()

    ontology.stop()
    with in_process_server(db, **_env(ontology)) as (_, stubs):  # ready although the server is down
        assert stubs.health_status("") == SERVING
        schema = get_schema(stubs)
        assert schema.source == admin_pb.SCHEMA_SOURCE_DISK and schema.version == "v1"
        check = schema_cache_check(stubs)
        assert check.status == monitoring_pb.HEALTH_STATUS_DEGRADED
        assert "last-known-good copy from disk" in check.message
        assert overall_health(stubs) == monitoring_pb.HEALTH_STATUS_DEGRADED
        assert stubs.projects.GetProject(pb.GetProjectRequest(name=created.name)) == created
        assert stubs.projects.CreateProject(create_request()).schema_version == "v1"

        ontology.restart()  # the unchanged schema is revalidated with the disk copy's ETag
        wait_until(lambda: get_schema(stubs).source == admin_pb.SCHEMA_SOURCE_SERVER, 15, "the server copy")
        wait_until(lambda: schema_cache_check(stubs).status == monitoring_pb.HEALTH_STATUS_HEALTHY, 15,
                   "schema cache HEALTHY")
        assert ontology.count(status=304) >= 1


def _tables(db: Path) -> list[str]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return [name for (name,) in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()]
    finally:
        con.close()


def test_without_a_disk_copy_or_the_mock_it_is_not_ready_and_never_invents_a_schema(
        tmp_path: Path, ontology: Ontology) -> None:
    db = tmp_path / "data" / "db.duckdb"
    ontology.stop()
    with in_process_server(db, require_ready=False, **_env(ontology)) as (server, stubs):
        assert not server.app.wait_ready(30)  # start-up finished without a schema
        assert stubs.health_status("") == NOT_SERVING
        assert stubs.health_status("liveness") == SERVING
        error = call_error(stubs.projects.CreateProject, create_request(), timeout=10)
        assert error.code == grpc.StatusCode.UNAVAILABLE
        assert error.error_info.reason == "SCHEMA_UNAVAILABLE"
        assert error.retry_info is not None and error.retry_info.retry_delay.seconds >= 1
        assert call_error(stubs.admin.GetSchema, admin_pb.GetSchemaRequest(name="schemas/project_schema"),
                          timeout=10).code == grpc.StatusCode.UNAVAILABLE
        check = schema_cache_check(stubs)
        assert check.status == monitoring_pb.HEALTH_STATUS_UNHEALTHY
    assert [t for t in _tables(db) if not t.startswith("_duckdb_spawn_")] == []  # no table from an invented schema

    with in_process_server(db, require_ready=False, **_env(ontology)) as (server, stubs):
        assert not server.app.wait_ready(30)
        ontology.restart()  # the server answers: readiness follows without a restart
        wait_until(lambda: stubs.health_status("") == SERVING, 20, "readiness SERVING")
        assert stubs.projects.CreateProject(create_request()).schema_version == "v1"
        assert get_schema(stubs).source == admin_pb.SCHEMA_SOURCE_SERVER


def test_the_mock_serves_only_until_the_server_answers_and_health_says_so(tmp_path: Path,
                                                                           ontology: Ontology) -> None:
    ontology.stop()
    with in_process_server(tmp_path / "db.duckdb", USE_MOCK_ONTO_SERVER="true", ONTO_SERVER_URL=ontology.url,
                           ONTO_CACHE_TTL="0.3") as (_, stubs):
        assert get_schema(stubs).source == admin_pb.SCHEMA_SOURCE_MOCK
        check = schema_cache_check(stubs)
        assert check.status == monitoring_pb.HEALTH_STATUS_DEGRADED and "built-in mock" in check.message
        on_mock = stubs.projects.CreateProject(create_request())
        assert on_mock.schema_version.startswith("sha256:")

        ontology.restart()
        wait_until(lambda: get_schema(stubs).source == admin_pb.SCHEMA_SOURCE_SERVER, 15, "the server's schema")
        assert stubs.projects.CreateProject(create_request()).schema_version == "v1"
        assert stubs.projects.GetProject(pb.GetProjectRequest(name=on_mock.name)) == on_mock
        wait_until(lambda: schema_cache_check(stubs).status == monitoring_pb.HEALTH_STATUS_HEALTHY, 15,
                   "schema cache HEALTHY")
