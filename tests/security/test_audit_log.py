"""The audit log: every admin call and every denied call, as JSON lines, never a token."""

from __future__ import annotations

from pathlib import Path

import grpc
from duckdb_spawn.v1 import admin_service_pb2 as admin_pb
from duckdb_spawn.v1 import project_service_pb2 as pb

from tests.support.auth import bearer
from tests.support.contract import all_rpcs
from tests.support.rpc import create_request
from tests.support.servers import ServerProcess, Stubs, base_env, wait_until
from tests.support.tokens import write_tokens_file

RPCS = {rpc.name: rpc for rpc in all_rpcs()}


def audit_lines(server: ServerProcess) -> list[dict]:
    return [r for r in server.log_records() if r.get("audit") is True]


def test_admin_and_denied_calls_are_audited_with_principal_method_target_outcome(tmp_path: Path) -> None:
    tokens = write_tokens_file(tmp_path / "tokens.json")
    server = ServerProcess(base_env(tmp_path / "audit.duckdb", AUTH_TOKENS_FILE=str(tmp_path / "tokens.json"),
                                    RATE_LIMIT_PER_SECOND="0.001", RATE_LIMIT_BURST="3"))
    try:
        server.wait_serving()
        channel = grpc.insecure_channel(server.target)
        server.wait_ready(Stubs(channel))
        admin, reader = bearer(tokens["admin"]), bearer(tokens["reader"])
        wrong = bearer("wrong-token-" + tokens["admin"])

        calls = [  # (rpc, request, metadata, expected audit fields)
            ("SetLogLevel", admin_pb.SetLogLevelRequest(level="ERROR"), admin,
             {"principal": "ops", "role": "admin", "auth": "token", "target": "level=ERROR", "outcome": "OK"}),
            ("GetTable", admin_pb.GetTableRequest(name="tables/projects"), admin,
             {"principal": "ops", "target": "tables/projects",
              "outcome": "OK" if RPCS["GetTable"].implemented else "UNIMPLEMENTED"}),
            ("GetTable", admin_pb.GetTableRequest(name="tables/nope"), admin,
             {"principal": "ops", "target": "tables/nope",
              "outcome": "NOT_FOUND" if RPCS["GetTable"].implemented else "UNIMPLEMENTED"}),
            ("DeleteTable", admin_pb.DeleteTableRequest(name="tables/projects"), None,
             {"principal": "anonymous", "role": "writer", "auth": "anonymous", "target": "tables/projects",
              "outcome": "UNAUTHENTICATED", "reason": "MISSING_CREDENTIALS"}),
            ("CreateProject", create_request(), reader,
             {"principal": "reporting", "role": "reader", "outcome": "PERMISSION_DENIED",
              "reason": "INSUFFICIENT_ROLE"}),
            ("GetProject", pb.GetProjectRequest(name="projects/x"), wrong,
             {"principal": "unauthenticated", "role": "none", "target": "projects/x",
              "outcome": "UNAUTHENTICATED", "reason": "INVALID_TOKEN"}),
            ("ListProjects", pb.ListProjectsRequest(), reader, None),  # allowed, not admin: not audited
            ("ListProjects", pb.ListProjectsRequest(), reader, None),
            ("ListProjects", pb.ListProjectsRequest(), reader, None),
            ("ListProjects", pb.ListProjectsRequest(), reader,  # the reader's burst of 3 is spent
             {"principal": "reporting", "outcome": "RESOURCE_EXHAUSTED", "reason": "RATE_LIMITED"}),
        ]
        expected = []
        for name, request, metadata, fields in calls:
            RPCS[name].call(channel, request, metadata=metadata)
            if fields is not None:
                expected.append({"method": RPCS[name].path, **fields})
        channel.close()

        wait_until(lambda: len(audit_lines(server)) >= len(expected), 20, "the audit lines")
        lines = audit_lines(server)
        assert len(lines) == len(expected), lines
        for line, want in zip(lines, expected, strict=True):
            assert {k: line.get(k) for k in want} == want, line
            assert line["logger"] == "duckdb_spawn_server.audit" and line["peer"].startswith("ipv4:127.0.0.1")
        output = "\n".join(server.lines + server.stderr_lines)
        for token in tokens.values():
            assert token not in output, "a token was logged"
    finally:
        server.close()
