"""Acceptance 5: each limit triggers with its documented status and a message naming it.

Limits are set small through their environment variables; every refusal
must carry the variable's name in the message and in ErrorInfo.metadata.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from duckdb_spawn.v1 import project_service_pb2 as pb
from google.protobuf import empty_pb2, field_mask_pb2

from tests.support.auth import bearer, with_token
from tests.support.extra_service import add_service
from tests.support.rpc import RichError, call_error, create_request, rich_error, valid_attributes
from tests.support.servers import InProcessServer, Stubs, in_process_server, wait_until

IA = grpc.StatusCode.INVALID_ARGUMENT
RE = grpc.StatusCode.RESOURCE_EXHAUSTED

LIMITS = {
    "MAX_ATTRIBUTES": "12",
    "MAX_ATTRIBUTE_BYTES": "1024",
    "MAX_FILTER_LENGTH": "100",
    "MAX_FILTER_TERMS": "3",
    "MAX_ORDER_BY_LENGTH": "40",
    "MAX_PAGE_SIZE": "2",
    "MAX_BATCH_SIZE": "2",
    "MAX_IMPORT_ROWS_PER_MESSAGE": "2",
    "MAX_IMPORT_ROWS": "3",
}


@pytest.fixture
def limited(tmp_path: Path) -> Iterator[tuple[InProcessServer, Stubs]]:
    with in_process_server(tmp_path / "limits.duckdb", **LIMITS) as pair:
        yield pair


def assert_limit(error: RichError, code: grpc.StatusCode, variable: str, reason: str) -> None:
    assert error.code == code, (error.code, error.message)
    assert variable in error.message, error.message
    assert error.error_info is not None and error.error_info.reason == reason
    assert error.error_info.metadata["limit"] == variable


def test_attribute_count_and_size(limited: tuple[InProcessServer, Stubs]) -> None:
    stubs = limited[1]
    many = create_request()
    many.project.attributes.update({f"extra_{i}": 1 for i in range(12)})
    assert_limit(call_error(stubs.projects.CreateProject, many), IA, "MAX_ATTRIBUTES", "TOO_MANY_ATTRIBUTES")

    big = create_request(description="d" * 1100, project_name="n" * 1100)
    error = call_error(stubs.projects.CreateProject, big)
    assert_limit(error, IA, "MAX_ATTRIBUTE_BYTES", "ATTRIBUTE_TOO_LARGE")
    assert error.violations == {"project.attributes.description": "ATTRIBUTE_TOO_LARGE",
                                "project.attributes.project_name": "ATTRIBUTE_TOO_LARGE"}

    existing = stubs.projects.CreateProject(create_request(description="d" * 900))  # within the limit
    update = pb.UpdateProjectRequest(update_mask=field_mask_pb2.FieldMask(paths=["attributes.description"]))
    update.project.name = existing.name
    update.project.attributes.update({"description": "d" * 2000})
    assert_limit(call_error(stubs.projects.UpdateProject, update), IA, "MAX_ATTRIBUTE_BYTES",
                 "ATTRIBUTE_TOO_LARGE")
    batch = pb.BatchCreateProjectsRequest(requests=[create_request(description="d" * 2000)])
    error = call_error(stubs.projects.BatchCreateProjects, batch)
    assert_limit(error, IA, "MAX_ATTRIBUTE_BYTES", "ATTRIBUTE_TOO_LARGE")
    assert "requests[0].project.attributes.description" in error.violations
    assert stubs.projects.ListProjects(pb.ListProjectsRequest()).total_size == 1


def test_filter_length_terms_and_order_by_on_every_rpc_that_takes_them(limited: tuple[InProcessServer, Stubs]) -> None:
    stubs = limited[1]
    long_filter = "project_name = \"" + "x" * 100 + "\""
    complex_filter = "a = 1 AND b = 2 AND (c > 3 OR d:\"x\")"
    for call, request_class in [(stubs.projects.ListProjects, pb.ListProjectsRequest),
                                (stubs.projects.SummarizeProjects, pb.SummarizeProjectsRequest)]:
        assert_limit(call_error(call, request_class(filter=long_filter)), IA, "MAX_FILTER_LENGTH", "FILTER_TOO_LONG")
        assert_limit(call_error(call, request_class(filter=complex_filter)), IA, "MAX_FILTER_TERMS",
                     "FILTER_TOO_COMPLEX")
    export = lambda request: list(stubs.projects.ExportProjects(request, timeout=10))  # noqa: E731
    assert_limit(call_error(export, pb.ExportProjectsRequest(filter=long_filter)), IA, "MAX_FILTER_LENGTH",
                 "FILTER_TOO_LONG")
    assert_limit(call_error(export, pb.ExportProjectsRequest(order_by="x" * 41)), IA, "MAX_ORDER_BY_LENGTH",
                 "ORDER_BY_TOO_LONG")
    assert_limit(call_error(stubs.projects.ListProjects, pb.ListProjectsRequest(order_by="create_time desc, " * 3)),
                 IA, "MAX_ORDER_BY_LENGTH", "ORDER_BY_TOO_LONG")


def test_page_size_is_capped(limited: tuple[InProcessServer, Stubs]) -> None:
    stubs = limited[1]
    for i in range(3):
        stubs.projects.CreateProject(create_request(project_name=f"p{i}"))
    page = stubs.projects.ListProjects(pb.ListProjectsRequest(page_size=1000))
    assert len(page.projects) == 2 and page.next_page_token and page.total_size == 3


def test_batch_size(limited: tuple[InProcessServer, Stubs]) -> None:
    stubs = limited[1]
    batch = pb.BatchCreateProjectsRequest(requests=[create_request(project_name=f"b{i}") for i in range(3)])
    error = call_error(stubs.projects.BatchCreateProjects, batch)
    assert_limit(error, IA, "MAX_BATCH_SIZE", "BATCH_TOO_LARGE")
    assert error.violations == {"requests": "BATCH_TOO_LARGE"}
    assert stubs.projects.ListProjects(pb.ListProjectsRequest()).total_size == 0


def import_messages(*row_counts: int) -> list[pb.ImportProjectsRequest]:
    messages = []
    for n, count in enumerate(row_counts):
        message = pb.ImportProjectsRequest()
        for i in range(count):
            message.struct_rows.rows.add().update(valid_attributes(project_name=f"import {n}.{i}"))
        messages.append(message)
    return messages


def test_import_caps(tmp_path: Path) -> None:
    """Checked by the import use case as it reads the stream, message by message."""
    with in_process_server(tmp_path / "import.duckdb", **LIMITS) as (_, stubs):
        call = stubs.projects.ImportProjects
        assert call(iter(import_messages(2, 1)), timeout=10).received_count == 3  # within both caps
        error = call_error(call, iter(import_messages(3)), timeout=10)
        assert_limit(error, IA, "MAX_IMPORT_ROWS_PER_MESSAGE", "IMPORT_MESSAGE_TOO_LARGE")
        error = call_error(call, iter(import_messages(2, 2)), timeout=10)
        assert_limit(error, RE, "MAX_IMPORT_ROWS", "IMPORT_TOO_LARGE")
        assert error.quota is not None and error.quota.violations[0].subject == "MAX_IMPORT_ROWS"
        big = import_messages(1)
        big[0].struct_rows.rows[0].update({"description": "d" * 2000})
        assert_limit(call_error(call, iter(big), timeout=10), IA, "MAX_ATTRIBUTE_BYTES", "ATTRIBUTE_TOO_LARGE")


def test_message_size_both_directions(tmp_path: Path) -> None:
    env = {"GRPC_MAX_MESSAGE_BYTES": str(64 * 1024), "MAX_ATTRIBUTE_BYTES": str(1024 * 1024)}
    with in_process_server(tmp_path / "size.duckdb", **env) as (_, stubs):
        # Request: refused by gRPC itself before any handler runs.
        with pytest.raises(grpc.RpcError) as caught:
            stubs.projects.CreateProject(create_request(description="d" * 70_000), timeout=10)
        assert caught.value.code() == RE
        assert "larger than max" in caught.value.details()
        # Response: refused with our message naming the variable.
        for i in range(20):
            stubs.projects.CreateProject(create_request(project_name=f"big {i}", description="d" * 4000))
        error = call_error(stubs.projects.ListProjects, pb.ListProjectsRequest(page_size=50))
        assert_limit(error, RE, "GRPC_MAX_MESSAGE_BYTES", "RESPONSE_TOO_LARGE")
        assert len(stubs.projects.ListProjects(pb.ListProjectsRequest(page_size=5)).projects) == 5


def test_concurrent_rpc_cap(tmp_path: Path) -> None:
    """Two calls held open fill a cap of 2; the third is refused; health stays answerable."""
    release = asyncio.Event()

    class Blocking:
        async def Hold(self, request: empty_pb2.Empty, context: object) -> empty_pb2.Empty:
            await asyncio.wait_for(release.wait(), 30)  # bounded: the test sets it
            return empty_pb2.Empty()

    server = InProcessServer(tmp_path / "cap.duckdb", GRPC_MAX_CONCURRENT_RPCS="2")
    add_service(server, "duckdb_spawn.test.Blocking", Blocking())
    server.start()
    channel = with_token(grpc.insecure_channel(server.target), server.admin_token)
    held = []
    try:
        stubs = Stubs(channel)
        hold_call = channel.unary_unary("/duckdb_spawn.test.Blocking/Hold")
        held = [hold_call.future(b"", timeout=30) for _ in range(2)]
        wait_until(lambda: server.app.admission.unary.active == 2, 10, "two calls in flight")
        error = call_error(stubs.projects.ListProjects, pb.ListProjectsRequest(), timeout=10)
        assert_limit(error, RE, "GRPC_MAX_CONCURRENT_RPCS", "TOO_MANY_CONCURRENT_RPCS")
        assert error.retry_info is not None
        assert stubs.health_status() == 1  # SERVING: probes are exempt
        server.app.runtime.loop.call_soon_threadsafe(release.set)
        for future in held:
            future.result(timeout=10)
        wait_until(lambda: server.app.admission.unary.active == 0, 10, "the slots to be released")
        assert stubs.projects.ListProjects(pb.ListProjectsRequest(), timeout=10).total_size == 0
    finally:
        server.app.runtime.loop.call_soon_threadsafe(release.set)
        channel.close()
        server.stop()


def test_unknown_methods_need_admin(tmp_path: Path) -> None:
    class Extra:
        async def Call(self, request: empty_pb2.Empty, context: object) -> empty_pb2.Empty:
            return empty_pb2.Empty()

    server = InProcessServer(tmp_path / "u.duckdb")
    add_service(server, "duckdb_spawn.test.Extra", Extra())
    server.start()
    try:
        with grpc.insecure_channel(server.target) as channel:
            call = channel.unary_unary("/duckdb_spawn.test.Extra/Call")
            with pytest.raises(grpc.RpcError) as caught:
                call(b"", timeout=10)
            assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
            assert call(b"", metadata=bearer(server.admin_token), timeout=10) == b""
    finally:
        server.stop()


def test_rate_limit_per_principal(tmp_path: Path) -> None:
    env = {"RATE_LIMIT_PER_SECOND": "0.001", "RATE_LIMIT_BURST": "2"}  # refills one call per 1000 s
    with in_process_server(tmp_path / "rate.duckdb", **env) as (server, admin):
        for _ in range(2):
            admin.projects.ListProjects(pb.ListProjectsRequest(), timeout=10)
        error = call_error(admin.projects.ListProjects, pb.ListProjectsRequest(), timeout=10)
        assert_limit(error, RE, "RATE_LIMIT_PER_SECOND", "RATE_LIMITED")
        assert error.retry_info is not None and error.retry_info.retry_delay.seconds > 0
        assert admin.health_status() == 1  # health is never rate limited
        with grpc.insecure_channel(server.target) as channel:  # another principal: its own bucket
            anonymous = Stubs(channel)
            for _ in range(2):
                anonymous.projects.ListProjects(pb.ListProjectsRequest(), timeout=10)
            error = rich_error(_raises(lambda: anonymous.projects.ListProjects(pb.ListProjectsRequest(), timeout=10)))
            assert error.code == RE and "anonymous" in error.message


def _raises(fn) -> grpc.RpcError:  # type: ignore[no-untyped-def]
    with pytest.raises(grpc.RpcError) as caught:
        fn()
    return caught.value
