"""Acceptance 1: /metrics counts a scripted mix of RPCs exactly, with go-grpc-prometheus names and labels."""

from __future__ import annotations

import uuid
from collections import defaultdict
from pathlib import Path

import grpc
from duckdb_spawn.v1 import project_service_pb2 as pb
from duckdb_spawn_server.api.server import SERVICE_DESCRIPTORS
from duckdb_spawn_server.observability.grpc_metrics import GO_CODE_NAMES
from grpc_health.v1 import health_pb2
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from tests.support.metrics import scrape, value
from tests.support.rpc import create_request
from tests.support.servers import in_process_server, wait_until

PROJECTS = "duckdb_spawn.v1.ProjectService"
HEALTH = "grpc.health.v1.Health"
REFLECTION = "grpc.reflection.v1alpha.ServerReflection"
COUNTERS = ("grpc_server_started_total", "grpc_server_handled_total", "grpc_server_msg_received_total",
            "grpc_server_msg_sent_total")


def _nonzero_grpc_counters(port: int) -> dict[tuple[str, ...], float]:
    found = {}
    for sample in scrape(port):
        if sample.name in COUNTERS and sample.value:
            labels = sample.labels
            key = (sample.name, labels["grpc_type"], labels["grpc_service"], labels["grpc_method"],
                   labels.get("grpc_code", ""))
            found[key] = sample.value
    return found


def test_metrics_count_a_scripted_mix_of_calls_exactly(tmp_path: Path) -> None:
    with in_process_server(tmp_path / "m.duckdb") as (server, stubs):
        port = server.app.metrics_port
        assert port

        created = [stubs.projects.CreateProject(create_request(project_name=f"p{i}")) for i in range(3)]
        for project in created[:2]:
            stubs.projects.GetProject(pb.GetProjectRequest(name=project.name))
        for bad in (create_request(currency_code="EURO"), create_request(maturity_years="fifteen")):
            try:
                stubs.projects.CreateProject(bad)
                raise AssertionError("an invalid project was accepted")
            except grpc.RpcError as error:
                assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
        try:
            stubs.projects.GetProject(pb.GetProjectRequest(name=f"projects/{uuid.uuid4()}"))
            raise AssertionError("a missing project was found")
        except grpc.RpcError as error:
            assert error.code() == grpc.StatusCode.NOT_FOUND

        # A bidirectional stream: two requests, two responses, OK.
        reflection = reflection_pb2_grpc.ServerReflectionStub(stubs.channel)
        requests = [reflection_pb2.ServerReflectionRequest(list_services=""),
                    reflection_pb2.ServerReflectionRequest(file_containing_symbol=PROJECTS)]
        assert len(list(reflection.ServerReflectionInfo(iter(requests)))) == 2

        # A server stream the client abandons after the first message: Canceled.
        watch = stubs.health.Watch(health_pb2.HealthCheckRequest(service=""))
        assert next(watch).status == health_pb2.HealthCheckResponse.SERVING
        watch.cancel()
        wait_until(lambda: _nonzero_grpc_counters(port).get(
            ("grpc_server_handled_total", "server_stream", HEALTH, "Watch", "Canceled")), 10,
            "the abandoned Watch to be counted as Canceled")

        assert _nonzero_grpc_counters(port) == {
            ("grpc_server_started_total", "unary", PROJECTS, "CreateProject", ""): 5,
            ("grpc_server_handled_total", "unary", PROJECTS, "CreateProject", "OK"): 3,
            ("grpc_server_handled_total", "unary", PROJECTS, "CreateProject", "InvalidArgument"): 2,
            ("grpc_server_msg_received_total", "unary", PROJECTS, "CreateProject", ""): 5,
            ("grpc_server_msg_sent_total", "unary", PROJECTS, "CreateProject", ""): 3,
            ("grpc_server_started_total", "unary", PROJECTS, "GetProject", ""): 3,
            ("grpc_server_handled_total", "unary", PROJECTS, "GetProject", "OK"): 2,
            ("grpc_server_handled_total", "unary", PROJECTS, "GetProject", "NotFound"): 1,
            ("grpc_server_msg_received_total", "unary", PROJECTS, "GetProject", ""): 3,
            ("grpc_server_msg_sent_total", "unary", PROJECTS, "GetProject", ""): 2,
            ("grpc_server_started_total", "bidi_stream", REFLECTION, "ServerReflectionInfo", ""): 1,
            ("grpc_server_handled_total", "bidi_stream", REFLECTION, "ServerReflectionInfo", "OK"): 1,
            ("grpc_server_msg_received_total", "bidi_stream", REFLECTION, "ServerReflectionInfo", ""): 2,
            ("grpc_server_msg_sent_total", "bidi_stream", REFLECTION, "ServerReflectionInfo", ""): 2,
            ("grpc_server_started_total", "server_stream", HEALTH, "Watch", ""): 1,
            ("grpc_server_handled_total", "server_stream", HEALTH, "Watch", "Canceled"): 1,
            ("grpc_server_msg_received_total", "server_stream", HEALTH, "Watch", ""): 1,
            ("grpc_server_msg_sent_total", "server_stream", HEALTH, "Watch", ""): 1,
        }

        # The latency histogram counts every handled call once, per method.
        samples = scrape(port)
        handled: dict[tuple[str, str, str], float] = defaultdict(float)
        histogram: dict[tuple[str, str, str], float] = {}
        for sample in samples:
            key = (sample.labels.get("grpc_type"), sample.labels.get("grpc_service"),
                   sample.labels.get("grpc_method"))
            if sample.name == "grpc_server_handled_total":
                handled[key] += sample.value
            elif sample.name == "grpc_server_handling_seconds_count":
                histogram[key] = sample.value
        assert histogram == handled
        assert value(samples, "grpc_server_handling_seconds_bucket", grpc_method="CreateProject", le="+Inf") == 5


def test_every_method_of_every_service_starts_at_zero(tmp_path: Path) -> None:
    with in_process_server(tmp_path / "z.duckdb") as (server, _):
        samples = scrape(server.app.metrics_port)
        for service in SERVICE_DESCRIPTORS:
            for method in service.methods:
                kind = {(False, False): "unary", (True, False): "client_stream", (False, True): "server_stream",
                        (True, True): "bidi_stream"}[(method.client_streaming, method.server_streaming)]
                labels = {"grpc_type": kind, "grpc_service": service.full_name, "grpc_method": method.name}
                for name in ("grpc_server_started_total", "grpc_server_msg_received_total",
                             "grpc_server_msg_sent_total", "grpc_server_handling_seconds_count"):
                    assert value(samples, name, **labels) == 0, (name, labels)
                for code in GO_CODE_NAMES.values():
                    assert value(samples, "grpc_server_handled_total", grpc_code=code, **labels) == 0, (code, labels)
        # Streaming kinds come from the contract, e.g. the export is a server stream.
        assert value(samples, "grpc_server_started_total", grpc_type="server_stream",
                     grpc_method="ExportProjects") == 0
        assert value(samples, "grpc_server_started_total", grpc_type="client_stream",
                     grpc_method="ImportProjects") == 0
        assert not [s for s in samples if s.name.endswith("_created")]


def test_client_streams_and_refused_calls_are_counted_with_their_codes(tmp_path: Path) -> None:
    with in_process_server(tmp_path / "u.duckdb") as (server, stubs):
        port = server.app.metrics_port
        try:
            stubs.projects.ImportProjects(iter([pb.ImportProjectsRequest(), pb.ImportProjectsRequest()]), timeout=10)
        except grpc.RpcError as error:
            code = error.code()
        else:
            code = grpc.StatusCode.OK
        samples = scrape(port)
        labels = {"grpc_type": "client_stream", "grpc_service": PROJECTS, "grpc_method": "ImportProjects"}
        assert value(samples, "grpc_server_started_total", **labels) == 1
        assert value(samples, "grpc_server_handled_total", grpc_code=GO_CODE_NAMES[code], **labels) == 1

        server.app.drain_gate.close()  # as after SIGTERM's drain period: new calls are refused
        try:
            stubs.projects.ListProjects(pb.ListProjectsRequest(), timeout=10)
            raise AssertionError("a call went through a closed drain gate")
        except grpc.RpcError as error:
            assert error.code() == grpc.StatusCode.UNAVAILABLE
        assert value(scrape(port), "grpc_server_handled_total", grpc_method="ListProjects",
                     grpc_code="Unavailable") == 1
