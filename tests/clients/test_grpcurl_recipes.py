"""Acceptance 4: every grpcurl command of clients/grpcurl/RECIPES.md runs as printed, in order.

Each command is a ```sh block with an `# expect: <status>` line; it must
succeed (OK) or fail with exactly that status. The server a command talks to
follows from its flags: `-plaintext` a plaintext server, `-cacert` a TLS
server, `-cacert -cert -key` a mutual-TLS server mapping the client
certificate `reporting-app` to the reader role. All three share one admin
token file, `admin.token` in the directory the commands run in, beside the
`ca.crt`, `client.crt` and `client.key` the recipes name.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import pytest
from duckdb_spawn.v1 import admin_service_pb2, monitoring_service_pb2, project_service_pb2

from tests.support.certs import CertificateAuthority
from tests.support.servers import BIN, REPO, in_process_server

RECIPES = REPO / "clients" / "grpcurl" / "RECIPES.md"
PLACEHOLDER = "localhost:50051"



@dataclass(frozen=True)
class Recipe:
    command: str
    expect: str  # "OK" or a grpcurl status name such as "NotFound"

    @property
    def method(self) -> str | None:
        match = re.search(r"\s((?:duckdb_spawn\.v1|grpc\.health\.v1)\.\w+/\w+)", self.command)
        return match.group(1) if match else None

    @property
    def server(self) -> str:
        if "-plaintext" in self.command:
            return "plaintext"
        return "mutual-tls" if "-cert " in self.command else "tls"


def recipes() -> list[Recipe]:
    found = []
    for block in re.findall(r"```sh\n(.*?)```", RECIPES.read_text(), re.S):
        expectations = re.findall(r"^# expect: (\w+)$", block, re.M)
        assert len(expectations) == 1, f"a recipe needs exactly one '# expect:' line:\n{block}"
        command = "\n".join(line for line in block.splitlines() if not line.startswith("# expect:"))
        assert command.lstrip().startswith("grpcurl "), f"a recipe is one grpcurl command:\n{block}"
        assert command.count("grpcurl ") == 1, f"one command per recipe:\n{block}"
        found.append(Recipe(command.strip() + "\n", expectations[0]))
    return found


def contract_methods() -> set[str]:
    methods = {"grpc.health.v1.Health/Check"}
    for module in (project_service_pb2, admin_service_pb2, monitoring_service_pb2):
        for service in module.DESCRIPTOR.services_by_name.values():
            methods.update(f"{service.full_name}/{m.name}" for m in service.methods)
    return methods


def test_every_rpc_has_a_recipe_with_auth_and_tls_variants() -> None:
    found = recipes()
    assert contract_methods() <= {r.method for r in found}
    assert any("authorization: Bearer $(cat admin.token)" in r.command for r in found)
    assert {r.server for r in found} == {"plaintext", "tls", "mutual-tls"}
    assert all(PLACEHOLDER in r.command for r in found)


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[tuple[Path, dict[str, str]]]:
    """The working directory of the commands and the address of each kind of server."""
    workdir = tmp_path / "work"
    workdir.mkdir()
    ca = CertificateAuthority(tmp_path / "pki")
    server_pem, client_pem = ca.issue("localhost", server=True), ca.issue("reporting-app")
    shutil.copy(ca.cert_path, workdir / "ca.crt")
    shutil.copy(client_pem.cert, workdir / "client.crt")
    shutil.copy(client_pem.key, workdir / "client.key")
    shared_token = {"AUTH_ADMIN_TOKEN_FILE": str(workdir / "admin.token")}
    tls = {"TLS_CERT_FILE": str(server_pem.cert), "TLS_KEY_FILE": str(server_pem.key), **shared_token}
    with ExitStack() as stack:
        plain, _ = stack.enter_context(in_process_server(tmp_path / "plain" / "db.duckdb", **shared_token))
        secure, _ = stack.enter_context(in_process_server(tmp_path / "tls" / "db.duckdb", **tls))
        mutual, _ = stack.enter_context(in_process_server(
            tmp_path / "mtls" / "db.duckdb", TLS_CLIENT_CA_FILE=str(workdir / "ca.crt"),
            TLS_CLIENT_ROLES="reporting-app:reader", **tls))
        yield workdir, {"plaintext": plain.target, "tls": secure.target, "mutual-tls": mutual.target}


def outcome(result: subprocess.CompletedProcess[str]) -> str:
    """OK, or the status grpcurl printed (`Code: NotFound`)."""
    if result.returncode == 0:
        return "OK"
    match = re.search(r"^\s*Code: (\w+)$", result.stderr, re.M)
    return match.group(1) if match else f"exit {result.returncode}: {result.stderr.strip()[-300:]}"


@pytest.mark.slow
def test_every_recipe_runs_as_documented(servers: tuple[Path, dict[str, str]]) -> None:
    workdir, targets = servers
    env = {**os.environ, "PATH": f"{BIN}:{os.environ['PATH']}"}
    failures = []
    for recipe in recipes():
        command = recipe.command.replace(PLACEHOLDER, targets[recipe.server])
        result = subprocess.run(["bash", "-c", command], cwd=workdir, env=env, capture_output=True, text=True,
                                timeout=60)
        got = outcome(result)
        if got != recipe.expect:
            failures.append(f"{recipe.command.strip()}\n  expected {recipe.expect}, got {got}\n{result.stderr[-500:]}")
    assert not failures, "\n\n".join(failures)
