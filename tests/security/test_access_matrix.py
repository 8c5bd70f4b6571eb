"""Acceptance 1: {no token, wrong token, reader, writer, admin} x {every RPC} gives exactly the documented status.

The expected roles below restate the README's "Who may call what" table
independently of api/access_policy.py, so a change to either shows up here.
A call the caller may make must succeed (OK), or answer UNIMPLEMENTED where
this branch's servicer does not implement the RPC yet.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from duckdb_spawn_server.api.access_policy import REQUIRED_ROLES, build_method_roles
from duckdb_spawn_server.domain.access import Role
from grpc_health.v1 import health_pb2
from grpc_reflection.v1alpha import reflection_pb2

from tests.support.auth import bearer, with_token
from tests.support.contract import DESTRUCTIVE, VALID_REQUESTS, Rpc, all_rpcs
from tests.support.rpc import rich_error
from tests.support.servers import InProcessServer, Stubs, in_process_server
from tests.support.tokens import write_tokens_file

# The documented table (README "Security").
READER = {"GetProject", "ListProjects", "ExportProjects", "SummarizeProjects", "ListProjectChanges", "WatchProjects",
          "GetHealth", "GetSystemMetrics"}
WRITER = {"CreateProject", "UpdateProject", "DeleteProject", "BatchCreateProjects", "ImportProjects"}
ADMIN_SERVICE = "duckdb_spawn.v1.AdminService"
CALLERS = ("none", "wrong", "reader", "writer", "admin")
PASS = "pass"


def documented_role(rpc: Rpc) -> Role:
    if rpc.name in READER:
        return Role.READER
    if rpc.name in WRITER:
        return Role.WRITER
    return Role.ADMIN  # AdminService and InitializeDatabase


def expected(caller: str, needed: Role, *, auth_required: bool) -> object:
    if caller == "wrong":
        return grpc.StatusCode.UNAUTHENTICATED
    if caller == "none":
        anonymous = None if auth_required else Role.WRITER
        return PASS if anonymous is not None and anonymous >= needed else grpc.StatusCode.UNAUTHENTICATED
    return PASS if Role[caller.upper()] >= needed else grpc.StatusCode.PERMISSION_DENIED


def metadata_for(caller: str, tokens: dict[str, str]) -> tuple[tuple[str, str], ...] | None:
    if caller == "none":
        return None
    if caller == "wrong":
        return bearer("not-a-valid-token-but-long-enough")
    return bearer(tokens[caller])


@pytest.fixture(params=[False, True], ids=["anonymous-writer-default", "auth-required"])
def secured(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[InProcessServer, dict[str, str], bool]]:
    tokens = write_tokens_file(tmp_path / "tokens.json")
    env = {"AUTH_TOKENS_FILE": str(tmp_path / "tokens.json")}
    if request.param:
        env["AUTH_REQUIRED"] = "true"
    with in_process_server(tmp_path / "data" / "matrix.duckdb", **env) as (server, _):
        yield server, tokens, request.param


def test_every_rpc_has_a_role_and_a_documented_one() -> None:
    roles = build_method_roles()  # raises if any RPC of the descriptors has no role
    rpcs = all_rpcs()
    assert {rpc.path for rpc in rpcs} == set(roles)
    for rpc in rpcs:
        assert roles[rpc.path] == documented_role(rpc), rpc.path
        if rpc.service == ADMIN_SERVICE:
            assert roles[rpc.path] == Role.ADMIN, "AdminService is never below admin"
    assert set(VALID_REQUESTS) == {rpc.name for rpc in rpcs}, "every RPC needs a valid request in the matrix"
    assert sum(len(methods) for methods in REQUIRED_ROLES.values()) == len(rpcs), "no stale entries"


def test_matrix_of_callers_and_rpcs(secured: tuple[InProcessServer, dict[str, str], bool]) -> None:
    server, tokens, auth_required = secured
    channel = grpc.insecure_channel(server.target)
    admin = Stubs(with_token(grpc.insecure_channel(server.target), tokens["admin"]))
    # Destructive calls last, and the admin (the only caller they succeed for) last of all.
    rpcs = sorted(all_rpcs(), key=lambda r: r.name in DESTRUCTIVE)
    failures = []
    for rpc in rpcs:
        for caller in CALLERS:
            want = expected(caller, documented_role(rpc), auth_required=auth_required)
            code, error, _ = rpc.call(channel, VALID_REQUESTS[rpc.name](admin), metadata=metadata_for(caller, tokens))
            if want == PASS:
                want = grpc.StatusCode.OK if rpc.implemented else grpc.StatusCode.UNIMPLEMENTED
            if code != want:
                failures.append(f"{caller:>6} {rpc.path}: {code.name}, expected {want.name}"
                                f" ({error.details() if error else ''})")
            elif error is not None and code in (grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.PERMISSION_DENIED):
                info = rich_error(error).error_info
                assert info is not None and info.domain == "duckdbspawn.io" and info.reason, rpc.path
    assert not failures, "\n".join(failures)
    channel.close()


@pytest.mark.parametrize("caller", CALLERS)
def test_health_is_open_to_every_caller(secured: tuple[InProcessServer, dict[str, str], bool], caller: str) -> None:
    server, tokens, _ = secured
    with grpc.insecure_channel(server.target) as channel:
        from grpc_health.v1 import health_pb2_grpc

        response = health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(service=""), metadata=metadata_for(caller, tokens), timeout=10)
        assert response.status == health_pb2.HealthCheckResponse.SERVING


def list_services(target: str, metadata: object = None) -> list[str]:
    from grpc_reflection.v1alpha import reflection_pb2_grpc

    with grpc.insecure_channel(target) as channel:
        responses = reflection_pb2_grpc.ServerReflectionStub(channel).ServerReflectionInfo(
            iter([reflection_pb2.ServerReflectionRequest(list_services="")]), metadata=metadata, timeout=10)
        return [s.name for r in responses for s in r.list_services_response.service]


@pytest.mark.parametrize("caller", CALLERS)
def test_reflection_is_open_by_default_and_behind_auth_when_required(
        secured: tuple[InProcessServer, dict[str, str], bool], caller: str) -> None:
    server, tokens, auth_required = secured
    metadata = metadata_for(caller, tokens)
    if caller == "wrong" or (auth_required and caller == "none"):
        with pytest.raises(grpc.RpcError) as caught:
            list_services(server.target, metadata)
        assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
    else:
        assert "duckdb_spawn.v1.AdminService" in list_services(server.target, metadata)


@pytest.mark.parametrize(("setting", "anonymous_ok", "token_ok"), [
    ("open", True, True), ("authenticated", False, True), ("off", False, False)])
def test_reflection_can_be_put_behind_auth_or_switched_off(tmp_path: Path, setting: str, anonymous_ok: bool,
                                                          token_ok: bool) -> None:
    with in_process_server(tmp_path / "r.duckdb", GRPC_REFLECTION=setting) as (server, _):
        for metadata, ok in ((None, anonymous_ok), (bearer(server.admin_token), token_ok)):
            if ok:
                assert "duckdb_spawn.v1.ProjectService" in list_services(server.target, metadata)
                continue
            with pytest.raises(grpc.RpcError) as caught:
                list_services(server.target, metadata)
            assert caught.value.code() == (grpc.StatusCode.UNIMPLEMENTED if setting == "off"
                                           else grpc.StatusCode.UNAUTHENTICATED)


def test_malformed_authorization_is_unauthenticated_not_anonymous(tmp_path: Path) -> None:
    with in_process_server(tmp_path / "m.duckdb") as (server, _), grpc.insecure_channel(server.target) as channel:
        list_projects = next(r for r in all_rpcs() if r.name == "ListProjects")
        assert list_projects.call(channel, VALID_REQUESTS["ListProjects"](None))[0] == grpc.StatusCode.OK
        for header in (f"Basic {server.admin_token}", "Bearer", "Bearer a b", server.admin_token):
            code, error, _ = list_projects.call(channel, VALID_REQUESTS["ListProjects"](None),
                                                metadata=(("authorization", header),))
            assert code == grpc.StatusCode.UNAUTHENTICATED, header
            assert rich_error(error).error_info.reason == "MALFORMED_AUTHORIZATION"
        code, error, _ = list_projects.call(channel, VALID_REQUESTS["ListProjects"](None),
                                            metadata=(*bearer(server.admin_token), *bearer(server.admin_token)))
        assert code == grpc.StatusCode.UNAUTHENTICATED
