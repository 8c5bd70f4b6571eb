"""Operators with grpcurl and no .proto files: everything through server reflection."""

from __future__ import annotations

import json
import subprocess

from tests.support.servers import BIN, InProcessServer, Stubs

GRPCURL = str(BIN / "grpcurl")


def grpcurl(target: str, *args: str, data: dict | None = None,
            token: str | None = None) -> subprocess.CompletedProcess[str]:
    command = [GRPCURL, "-plaintext", "-max-time", "20"]
    if token is not None:
        command += ["-H", f"authorization: Bearer {token}"]
    if data is not None:
        command += ["-d", json.dumps(data)]
    return subprocess.run([*command, target, *args], capture_output=True, text=True, timeout=60)


def ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_grpcurl_lists_describes_and_runs_crud(server: tuple[InProcessServer, Stubs]) -> None:
    target = server[0].target
    services = ok(grpcurl(target, "list")).split()
    for service in ["duckdb_spawn.v1.ProjectService", "duckdb_spawn.v1.AdminService",
                    "duckdb_spawn.v1.MonitoringService", "grpc.health.v1.Health"]:
        assert service in services

    described = ok(grpcurl(target, "describe", "duckdb_spawn.v1.Project"))
    assert "google.protobuf.Struct attributes" in described
    assert "string etag" in described and "string schema_version" in described
    methods = ok(grpcurl(target, "describe", "duckdb_spawn.v1.ProjectService"))
    for method in ["CreateProject", "GetProject", "ListProjects", "UpdateProject", "DeleteProject",
                   "InitializeDatabase"]:
        assert f"rpc {method}" in methods

    created = json.loads(ok(grpcurl(target, "duckdb_spawn.v1.ProjectService/CreateProject", data={
        "project": {"attributes": {"project_name": "Wind park", "total_amount": "5000000.00",
                                   "maturity_years": 20, "expected_tri": "6.10", "dscr": "1.40"}}})))
    name = created["name"]
    assert created["attributes"]["status"] == "PROPOSED"

    fetched = json.loads(ok(grpcurl(target, "duckdb_spawn.v1.ProjectService/GetProject", data={"name": name})))
    assert fetched["attributes"]["total_amount"] == "5000000.00"

    listed = json.loads(ok(grpcurl(target, "duckdb_spawn.v1.ProjectService/ListProjects",
                                   data={"page_size": 10})))
    assert [p["name"] for p in listed["projects"]] == [name] and listed["total_size"] == 1

    updated = json.loads(ok(grpcurl(target, "duckdb_spawn.v1.ProjectService/UpdateProject", data={
        "project": {"name": name, "attributes": {"status": "ACTIVE"}},
        "update_mask": {"paths": ["attributes.status"]}})))
    assert updated["attributes"]["status"] == "ACTIVE" and updated["etag"] != created["etag"]

    ok(grpcurl(target, "duckdb_spawn.v1.ProjectService/DeleteProject", data={"name": name}))
    missing = grpcurl(target, "duckdb_spawn.v1.ProjectService/GetProject", data={"name": name})
    assert missing.returncode != 0 and "NotFound" in missing.stderr

    health = json.loads(ok(grpcurl(target, "grpc.health.v1.Health/Check")))
    assert health["status"] == "SERVING"
    tables = json.loads(ok(grpcurl(target, "duckdb_spawn.v1.AdminService/ListTables", token=server[0].admin_token)))
    assert tables["tables"][0]["name"] == "tables/projects"


def test_grpcurl_shows_rich_errors(server: tuple[InProcessServer, Stubs]) -> None:
    result = grpcurl(server[0].target, "duckdb_spawn.v1.ProjectService/CreateProject",
                     data={"project": {"attributes": {"project_name": "x", "currency_code": "EURO"}}})
    assert result.returncode != 0
    assert "InvalidArgument" in result.stderr
    assert "google.rpc.BadRequest" in result.stderr and "attributes.currency_code" in result.stderr
    assert "google.rpc.ErrorInfo" in result.stderr
