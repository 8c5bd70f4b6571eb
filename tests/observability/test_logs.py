"""Acceptance 3: JSON lines only, request ids in and out, no values or credentials at INFO, LOG_LEVEL honoured."""

from __future__ import annotations

import json
import re
import signal
from pathlib import Path

import grpc
from duckdb_spawn.v1 import admin_service_pb2 as apb
from duckdb_spawn.v1 import monitoring_service_pb2 as mpb
from duckdb_spawn.v1 import project_service_pb2 as pb

from tests.support.metrics import scrape_text
from tests.support.rpc import create_request
from tests.support.servers import ServerProcess, Stubs, base_env, wait_until

SECRET_NAME = "Secret-Name-7f3a91"
SECRET_CURRENCY = "SECRETCUR8"
SECRET_TOKEN = "Bearer tok-5ecr3t-9d2c"


def _trailer(call: grpc.Call, key: str) -> str | None:
    return next((value for k, value in call.trailing_metadata() or () if k == key), None)


def _admin_metadata(db_path: Path) -> list[tuple[str, str]]:
    """Credentials for AdminService when the server generated an admin token beside its database."""
    token_file = db_path.parent / "admin.token"
    return [("authorization", f"Bearer {token_file.read_text().strip()}")] if token_file.exists() else []


def _records(server: ServerProcess) -> list[dict]:
    return [json.loads(line) for line in list(server.lines)]


def _rpc_record(server: ServerProcess, request_id: str) -> dict | None:
    return next((r for r in _records(server) if r.get("message") == "rpc finished"
                 and r.get("request_id") == request_id), None)


def test_logs_are_json_lines_with_request_ids_and_without_values_or_credentials(tmp_path: Path) -> None:
    db_path = tmp_path / "logs.duckdb"
    server = ServerProcess(base_env(db_path, LOG_LEVEL="INFO"))
    try:
        server.wait_serving()
        channel = grpc.insecure_channel(server.target)
        stubs = Stubs(channel)
        server.wait_ready(stubs)

        # A request id sent by the client is logged and returned in the trailing metadata.
        project, call = stubs.projects.CreateProject.with_call(create_request(project_name=SECRET_NAME),
                                                               metadata=[("x-request-id", "abc")])
        assert _trailer(call, "x-request-id") == "abc"
        record = wait_until(lambda: _rpc_record(server, "abc"), 10, "the access log line of request abc")
        assert record["rpc_method"] == "/duckdb_spawn.v1.ProjectService/CreateProject"
        assert record["grpc_code"] == "OK"
        assert isinstance(record["duration_ms"], float) and record["duration_ms"] >= 0
        assert "127.0.0.1" in record["peer"]
        assert record["level"] == "INFO" and record["logger"] == "duckdb_spawn_server.rpc"

        # ...also when the call fails (the error details travel in the same trailers).
        try:
            stubs.projects.CreateProject(create_request(currency_code=SECRET_CURRENCY),
                                         metadata=[("x-request-id", "def")])
            raise AssertionError("an invalid project was accepted")
        except grpc.RpcError as error:
            assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
            assert _trailer(error, "x-request-id") == "def"
            assert _trailer(error, "grpc-status-details-bin")
        assert wait_until(lambda: _rpc_record(server, "def"), 10, "request def")["grpc_code"] == "INVALID_ARGUMENT"

        # Without an id, or with one that is not a short token, the server makes one up.
        try:
            stubs.projects.GetProject(pb.GetProjectRequest(name=project.name + "x"))
        except grpc.RpcError as error:
            generated = _trailer(error, "x-request-id")
        assert generated and re.fullmatch(r"[0-9a-f]{32}", generated)
        wait_until(lambda: _rpc_record(server, generated), 10, "the generated request id in the log")
        _, call = stubs.projects.ListProjects.with_call(pb.ListProjectsRequest(),
                                                        metadata=[("x-request-id", "two words")])
        replaced = _trailer(call, "x-request-id")
        assert replaced != "two words"
        assert wait_until(lambda: _rpc_record(server, replaced), 10, "replaced id")["client_request_id_rejected"]

        # A credential is never logged, whether the server accepts it or not.
        try:
            stubs.projects.ListProjects(pb.ListProjectsRequest(), metadata=[("authorization", SECRET_TOKEN),
                                                                            ("x-request-id", "with-token")])
        except grpc.RpcError as error:
            assert error.code() == grpc.StatusCode.UNAUTHENTICATED
        wait_until(lambda: _rpc_record(server, "with-token"), 10, "the call with a token to be logged")

        # Health probes are logged at DEBUG: not at INFO, but after SetLogLevel(DEBUG).
        stubs.monitoring.GetHealth(mpb.GetHealthRequest())
        stubs.monitoring.GetSystemMetrics(mpb.GetSystemMetricsRequest())
        scrape_text(int(server.metrics_port))
        stubs.health_status()
        assert not [r for r in _records(server) if r["level"] == "DEBUG"]
        admin = _admin_metadata(db_path)
        assert stubs.admin.SetLogLevel(apb.SetLogLevelRequest(level="DEBUG"), metadata=admin).level == "DEBUG"
        stubs.health_status()
        wait_until(lambda: [r for r in _records(server) if r["level"] == "DEBUG"
                            and r.get("rpc_method") == "/grpc.health.v1.Health/Check"], 10,
                   "a DEBUG access line for the health check")
        assert stubs.admin.GetLogLevel(apb.GetLogLevelRequest(), metadata=admin).level == "DEBUG"
        assert stubs.admin.SetLogLevel(apb.SetLogLevelRequest(level="INFO"), metadata=admin).level == "INFO"
        channel.close()

        server.signal(signal.SIGTERM)
        assert server.wait_exit(60) == 0
        server._reader.join(10)
        server._err_reader.join(10)
    finally:
        server.close()

    # Every line the service wrote parses as one JSON object with the common fields.
    assert server.lines and not server.stderr_lines, server.stderr_lines
    for line in server.lines:
        record = json.loads(line)
        assert isinstance(record, dict)
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", record["timestamp"])
        assert record["level"] in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
        assert record["logger"] and isinstance(record["message"], str)
    # Attribute values and credentials never reached the log.
    text = "\n".join(server.lines)
    for secret in (SECRET_NAME, SECRET_CURRENCY, SECRET_TOKEN, "tok-5ecr3t"):
        assert secret not in text
    assert any(r.get("message") == "stopped" for r in map(json.loads, server.lines))
