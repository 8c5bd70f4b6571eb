"""Acceptance 3: TLS and mutual TLS, with grpcurl and the Python client.

grpcurl with -cacert succeeds and plaintext fails; with mutual TLS a client
without a certificate (or with one from another CA) is rejected and one
with a valid certificate gets the role its common name maps to.
"""

from __future__ import annotations

import json
import socket
import subprocess
import threading
from pathlib import Path

import grpc
import pytest
from duckdb_spawn.v1 import monitoring_service_pb2 as mpb
from duckdb_spawn.v1 import project_service_pb2 as pb
from duckdb_spawn_server.config import ConfigError, load_settings
from grpc_health.v1 import health_pb2
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from tests.support.certs import CertificateAuthority
from tests.support.rpc import call_error, create_request
from tests.support.servers import BIN, InProcessServer, Stubs, base_env, in_process_server, wait_until

GRPCURL = str(BIN / "grpcurl")
SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


def grpcurl(target: str, method: str, *flags: str, data: str = "{}") -> subprocess.CompletedProcess[str]:
    return subprocess.run([GRPCURL, "-max-time", "20", *flags, "-d", data, target, method],
                          capture_output=True, text=True, timeout=60)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    directory = tmp_path_factory.mktemp("pki")
    ca = CertificateAuthority(directory / "ca")
    other = CertificateAuthority(directory / "other", name="someone else's CA")
    return {
        "ca": ca,
        "server": ca.issue("localhost", server=True),
        "reporting": ca.issue("reporting-app", organization="Acme"),
        "loader": ca.issue("etl-loader"),
        "stranger": ca.issue("stranger"),
        "forged": other.issue("reporting-app"),
    }


def tls_env(pki: dict[str, object], **extra: str) -> dict[str, str]:
    return {"TLS_CERT_FILE": str(pki["server"].cert), "TLS_KEY_FILE": str(pki["server"].key), **extra}


def test_tls_grpcurl_with_cacert_succeeds_and_plaintext_fails(tmp_path: Path, pki: dict[str, object]) -> None:
    ca = str(pki["ca"].cert_path)
    with in_process_server(tmp_path / "tls.duckdb", **tls_env(pki)) as (server, _):
        target = server.target
        health = grpcurl(target, "duckdb_spawn.v1.MonitoringService/GetHealth", "-cacert", ca)
        assert health.returncode == 0, health.stderr
        assert json.loads(health.stdout)["version"]
        listed = grpcurl(target, "list", "-cacert", ca, data="")
        assert "duckdb_spawn.v1.ProjectService" in listed.stdout, listed.stderr

        plaintext = grpcurl(target, "duckdb_spawn.v1.MonitoringService/GetHealth", "-plaintext")
        assert plaintext.returncode != 0
        untrusted = grpcurl(target, "duckdb_spawn.v1.MonitoringService/GetHealth")  # system CAs only
        assert untrusted.returncode != 0 and "certificate" in untrusted.stderr.lower()

        with grpc.secure_channel(target, grpc.ssl_channel_credentials(pki["ca"].cert_path.read_bytes())) as channel:
            project = Stubs(channel).projects.CreateProject(create_request(), timeout=10)  # anonymous writer
            assert project.name.startswith("projects/")
        with grpc.insecure_channel(target) as channel, pytest.raises(grpc.RpcError) as caught:
            Stubs(channel).projects.ListProjects(pb.ListProjectsRequest(), timeout=5)
        assert caught.value.code() == grpc.StatusCode.UNAVAILABLE


def mtls_channel(target: str, pki: dict[str, object], client: str | None) -> grpc.Channel:
    ca = pki["ca"].cert_path.read_bytes()
    if client is None:
        return grpc.secure_channel(target, grpc.ssl_channel_credentials(ca))
    cert, key = pki[client].read()
    return grpc.secure_channel(target, grpc.ssl_channel_credentials(ca, private_key=key, certificate_chain=cert))


def test_mutual_tls_rejects_missing_certificates_and_maps_subjects_to_roles(
        tmp_path: Path, pki: dict[str, object]) -> None:
    env = tls_env(pki, TLS_CLIENT_CA_FILE=str(pki["ca"].cert_path),
                  TLS_CLIENT_ROLES="reporting-app:reader,etl-loader:writer", AUTH_REQUIRED="true")
    ca = str(pki["ca"].cert_path)
    with in_process_server(tmp_path / "mtls.duckdb", **env) as (server, _):
        target = server.target
        # grpcurl: no client certificate -> the handshake fails.
        bare = grpcurl(target, "duckdb_spawn.v1.ProjectService/ListProjects", "-cacert", ca)
        assert bare.returncode != 0
        # grpcurl with the reporting certificate: reader.
        reporting = ("-cacert", ca, "-cert", str(pki["reporting"].cert), "-key", str(pki["reporting"].key))
        listed = grpcurl(target, "duckdb_spawn.v1.ProjectService/ListProjects", *reporting)
        assert listed.returncode == 0, listed.stderr
        denied = grpcurl(target, "duckdb_spawn.v1.ProjectService/CreateProject", *reporting,
                         data=json.dumps({"project": {"attributes": {"project_name": "x"}}}))
        assert denied.returncode != 0 and "PermissionDenied" in denied.stderr
        assert "reader" in denied.stderr and "INSUFFICIENT_ROLE" in denied.stderr

        # Python clients: no certificate, a forged one, an unmapped one, the writer's.
        for client in (None, "forged"):
            with mtls_channel(target, pki, client) as channel, pytest.raises(grpc.RpcError) as caught:
                Stubs(channel).projects.ListProjects(pb.ListProjectsRequest(), timeout=5)
            assert caught.value.code() == grpc.StatusCode.UNAVAILABLE, client  # handshake refused
        with mtls_channel(target, pki, "stranger") as channel:
            error = call_error(Stubs(channel).projects.ListProjects, pb.ListProjectsRequest(), timeout=5)
            assert error.code == grpc.StatusCode.UNAUTHENTICATED  # verified, but no role mapped
        with mtls_channel(target, pki, "loader") as channel:
            stubs = Stubs(channel)
            created = stubs.projects.CreateProject(create_request(), timeout=10)
            assert stubs.projects.GetProject(pb.GetProjectRequest(name=created.name), timeout=10) == created
            error = call_error(stubs.projects.InitializeDatabase, pb.InitializeDatabaseRequest(), timeout=5)
            assert error.code == grpc.StatusCode.PERMISSION_DENIED


@pytest.mark.parametrize(("env", "message"), [
    ({"TLS_CERT_FILE": "/nonexistent.crt"}, "TLS_CERT_FILE and TLS_KEY_FILE must be set together"),
    ({"TLS_CLIENT_CA_FILE": "/ca.crt"}, "TLS_CLIENT_CA_FILE needs TLS_CERT_FILE"),
    ({"TLS_CLIENT_ROLES": "app:superuser"}, "TLS_CLIENT_ROLES"),
])
def test_inconsistent_tls_settings_fail_fast(tmp_path: Path, env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_settings(base_env(tmp_path / "x.duckdb", **env))


def test_unreadable_certificate_files_fail_fast(tmp_path: Path) -> None:
    from duckdb_spawn_server.security.setup import build_security

    (tmp_path / "not-pem.crt").write_text("hello")
    settings = load_settings(base_env(tmp_path / "x.duckdb", TLS_CERT_FILE=str(tmp_path / "not-pem.crt"),
                                      TLS_KEY_FILE=str(tmp_path / "missing.key")))
    with pytest.raises(ConfigError, match="TLS_CERT_FILE"):
        build_security(settings)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_health_port_answers_plaintext_health_alone_and_follows_the_drain(
        tmp_path: Path, pki: dict[str, object]) -> None:
    """HEALTH_PORT: what the kubelet's gRPC probes (which cannot speak TLS) use when the main port is TLS."""
    server = InProcessServer(tmp_path / "probe.duckdb", AUTH_REQUIRED="true", HEALTH_PORT=str(free_port()),
                             **tls_env(pki)).start()
    stopping: threading.Thread | None = None
    try:
        assert server.app.health_port
        health_target = f"127.0.0.1:{server.app.health_port}"
        with grpc.insecure_channel(health_target) as channel:
            stubs = Stubs(channel)  # plaintext, no credentials
            assert stubs.health_status("") == SERVING
            assert stubs.health_status("liveness") == SERVING
            # Nothing but health on this port: no other service, no reflection.
            for call, request in ((stubs.projects.ListProjects, pb.ListProjectsRequest()),
                                  (stubs.monitoring.GetHealth, mpb.GetHealthRequest())):
                assert call_error(call, request, timeout=5).code == grpc.StatusCode.UNIMPLEMENTED
            reflection = reflection_pb2_grpc.ServerReflectionStub(channel).ServerReflectionInfo(
                iter([reflection_pb2.ServerReflectionRequest(list_services="")]), timeout=5)
            with pytest.raises(grpc.RpcError) as caught:
                list(reflection)
            assert caught.value.code() == grpc.StatusCode.UNIMPLEMENTED
            # The TLS port still refuses plaintext, health included.
            with grpc.insecure_channel(server.target) as plain, pytest.raises(grpc.RpcError) as caught:
                Stubs(plain).health_status("")
            assert caught.value.code() == grpc.StatusCode.UNAVAILABLE

            # The same readiness as the TLS port: NOT_SERVING as soon as the drain starts, and still
            # answering while it lasts.
            stopping = threading.Thread(target=server.app.stop, kwargs={"drain_seconds": 3, "grace_seconds": 2})
            stopping.start()
            wait_until(lambda: stubs.health_status("") == NOT_SERVING, 10, "NOT_SERVING on HEALTH_PORT")
            assert stubs.health_status("liveness") == SERVING
            with grpc.secure_channel(server.target, grpc.ssl_channel_credentials(
                    pki["ca"].cert_path.read_bytes())) as secure:
                assert Stubs(secure).health_status("") == NOT_SERVING
            stopping.join(60)
            assert not stopping.is_alive()
            # Stopped with the server.
            assert call_error(stubs.health.Check, health_pb2.HealthCheckRequest(),
                              timeout=5).code == grpc.StatusCode.UNAVAILABLE
    finally:
        if stopping is None:
            server.stop()


def test_health_port_must_not_reuse_another_port(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="HEALTH_PORT must differ"):
        load_settings(base_env(tmp_path / "x.duckdb", GRPC_PORT="6000", HEALTH_PORT="6000"))
