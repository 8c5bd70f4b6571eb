"""DeleteTable really drops; names are validated; nothing but hosted tables can be dropped or altered."""

from __future__ import annotations

from pathlib import Path

import duckdb
import grpc
import pytest
from duckdb_spawn.v1 import admin_service_pb2 as admin_pb
from duckdb_spawn.v1 import project_service_pb2 as pb

from tests.support.rpc import call_error, create_request
from tests.support.servers import InProcessServer, Stubs, in_process_server


def _metric(server: InProcessServer, name: str, **labels: str) -> float:
    return server.app.metrics.registry.get_sample_value(name, labels) or 0.0


def test_delete_table_drops_for_real_and_the_projects_table_needs_force(
        server: tuple[InProcessServer, Stubs]) -> None:
    app, stubs = server
    stubs.projects.CreateProject(create_request())
    table = admin_pb.DeleteTableRequest(name="tables/projects")
    protected = call_error(stubs.admin.DeleteTable, table)
    assert protected.code == grpc.StatusCode.FAILED_PRECONDITION and protected.error_info.reason == "TABLE_PROTECTED"
    assert stubs.admin.GetTable(admin_pb.GetTableRequest(name="tables/projects")).row_count == 1

    stubs.admin.DeleteTable(admin_pb.DeleteTableRequest(name="tables/projects", force=True))
    assert call_error(stubs.admin.GetTable, admin_pb.GetTableRequest(name="tables/projects")).code == \
        grpc.StatusCode.NOT_FOUND
    assert list(stubs.admin.ListTables(admin_pb.ListTablesRequest()).tables) == []
    missing = call_error(stubs.admin.DeleteTable, admin_pb.DeleteTableRequest(name="tables/projects", force=True))
    assert missing.code == grpc.StatusCode.NOT_FOUND and missing.error_info.reason == "TABLE_NOT_FOUND"
    # Without its table the service says so, clearly, on every project call.
    for call, request in [(stubs.projects.CreateProject, create_request()),
                          (stubs.projects.ListProjects, pb.ListProjectsRequest())]:
        error = call_error(call, request)
        assert error.code == grpc.StatusCode.FAILED_PRECONDITION and error.error_info.reason == "TABLE_MISSING"

    created_before = _metric(app, "duckdb_table_creations_total", status="success")
    initialized = stubs.projects.InitializeDatabase(pb.InitializeDatabaseRequest())
    assert [(t.table, t.created) for t in initialized.tables] == [("tables/projects", True)]
    assert _metric(app, "duckdb_table_creations_total", status="success") == created_before + 1
    again = stubs.admin.CreateTables(admin_pb.CreateTablesRequest())
    assert [(r.table, r.created) for r in again.results] == [("tables/projects", False)]
    assert stubs.projects.CreateProject(create_request()).name
    assert stubs.projects.ListProjects(pb.ListProjectsRequest()).total_size == 1
    assert _metric(app, "duckdb_table_operations_total", operation="delete", status="success") == 1
    assert _metric(app, "duckdb_table_operations_total", operation="delete", status="refused") == 1


BAD_NAMES = ['tables/pro"jects', "tables/projects; DROP TABLE projects", "tables/main.projects",
             "tables/" + "p" * 64, "tables/", "projects", "tables/Projects", "tables/_duckdb_spawn_tables",
             "tables/../projects", "tables/projects ", "tables/projects\x00"]


@pytest.mark.parametrize("name", BAD_NAMES)
def test_unsafe_table_names_are_invalid_argument_and_touch_nothing(server: tuple[InProcessServer, Stubs],
                                                                   name: str) -> None:
    _, stubs = server
    project = stubs.projects.CreateProject(create_request())
    for call, request in [(stubs.admin.DeleteTable, admin_pb.DeleteTableRequest(name=name, force=True)),
                          (stubs.admin.UpdateTable, admin_pb.UpdateTableRequest(name=name, force=True)),
                          (stubs.admin.GetTable, admin_pb.GetTableRequest(name=name))]:
        error = call_error(call, request)
        assert error.code == grpc.StatusCode.INVALID_ARGUMENT, (name, error.message)
        assert error.violations == {"name": "INVALID_NAME"}
    assert stubs.projects.GetProject(pb.GetProjectRequest(name=project.name)) == project


def test_tables_that_are_not_hosted_can_never_be_dropped_or_altered(tmp_path: Path) -> None:
    db = tmp_path / "db.duckdb"
    con = duckdb.connect(str(db))
    con.execute("CREATE TABLE audit_log (id INTEGER, entry VARCHAR)")
    con.execute("INSERT INTO audit_log VALUES (1, 'kept')")
    con.close()
    with in_process_server(db) as (_, stubs):
        for call, request in [
            (stubs.admin.DeleteTable, admin_pb.DeleteTableRequest(name="tables/audit_log", force=True)),
            (stubs.admin.UpdateTable, admin_pb.UpdateTableRequest(name="tables/audit_log", force=True)),
            (stubs.admin.GetTable, admin_pb.GetTableRequest(name="tables/audit_log")),
        ]:
            error = call_error(call, request)
            assert error.code == grpc.StatusCode.NOT_FOUND and error.error_info.reason == "TABLE_NOT_FOUND"
        assert [t.name for t in stubs.admin.ListTables(admin_pb.ListTablesRequest()).tables] == ["tables/projects"]
    con = duckdb.connect(str(db), read_only=True)
    try:
        assert con.execute("SELECT * FROM audit_log").fetchall() == [(1, "kept")]
    finally:
        con.close()
