"""Bodies protobuf cannot decode are the caller's fault: INVALID_ARGUMENT with ErrorInfo, one quiet log line.

grpc's own decoder answers such bodies INTERNAL "Exception deserializing
request!" and logs a traceback each time. Every method of every service
served here (ours, health, reflection; unary and streaming) is sent raw
bodies: garbage, truncated, invalid UTF-8 in a string field, and Structs
nested deeper than protobuf's decoder allows.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from pathlib import Path

import grpc
import pyarrow as pa
import pytest
from duckdb_spawn.v1 import project_service_pb2 as pb
from google.protobuf import descriptor as d
from grpc_health.v1 import health_pb2
from grpc_reflection.v1alpha import reflection_pb2

from tests.support.contract import all_rpcs
from tests.support.rpc import rich_error, valid_attributes
from tests.support.servers import InProcessServer, Stubs, in_process_server


def varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def length_delimited(field_number: int, payload: bytes) -> bytes:
    return varint(field_number << 3 | 2) + varint(len(payload)) + payload


def deep_struct(depth: int) -> bytes:
    """A google.protobuf.Struct {"a": {"a": ... }} `depth` levels deep, as wire bytes."""
    struct = b""
    for _ in range(depth):
        value = length_delimited(5, struct)  # Value.struct_value
        entry = length_delimited(1, b"a") + length_delimited(2, value)  # map entry: key, value
        struct = length_delimited(1, entry)  # Struct.fields
    return struct


def first_string_field(descriptor: d.Descriptor) -> int | None:
    return next((f.number for f in descriptor.fields if f.type == d.FieldDescriptor.TYPE_STRING), None)


# (full method, request descriptor, client streaming, server streaming) for every method served.
METHODS = [(rpc.path, rpc.descriptor.input_type, rpc.descriptor.client_streaming, rpc.descriptor.server_streaming)
           for rpc in all_rpcs()]
METHODS += [
    ("/grpc.health.v1.Health/Check", health_pb2.HealthCheckRequest.DESCRIPTOR, False, False),
    ("/grpc.health.v1.Health/Watch", health_pb2.HealthCheckRequest.DESCRIPTOR, False, True),
    ("/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
     reflection_pb2.ServerReflectionRequest.DESCRIPTOR, True, True),
]


def bodies(descriptor: d.Descriptor) -> Iterator[tuple[str, bytes]]:
    yield "garbage", b"\xff\xff\xff\xff"
    yield "truncated", length_delimited(1, b"abcdef")[:-3]
    string_field = first_string_field(descriptor)
    if string_field is not None:
        yield "invalid UTF-8", length_delimited(string_field, b"projects/\xc0\xaf")
        yield "overlong UTF-8", length_delimited(string_field, b"\xe0\x80\xaf")


def call_raw(channel: grpc.Channel, method: str, client_streaming: bool, server_streaming: bool,
             body: bytes) -> grpc.RpcError:
    kind = ("stream" if client_streaming else "unary") + "_" + ("stream" if server_streaming else "unary")
    multicallable = getattr(channel, kind)(method)
    argument = iter([body]) if client_streaming else body
    try:
        response = multicallable(argument, timeout=10)
        if server_streaming:
            list(response)
    except grpc.RpcError as error:
        return error
    raise AssertionError(f"{method} accepted an undecodable body")


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[InProcessServer, Stubs]]:
    with in_process_server(tmp_path_factory.mktemp("malformed") / "db.duckdb") as pair:
        yield pair


@pytest.mark.parametrize(("method", "descriptor", "client_streaming", "server_streaming"), METHODS,
                         ids=[m[0].rsplit("/", 1)[1] for m in METHODS])
def test_every_method_refuses_undecodable_bodies_as_invalid_argument(
        running: tuple[InProcessServer, Stubs], method: str, descriptor: d.Descriptor, client_streaming: bool,
        server_streaming: bool, caplog: pytest.LogCaptureFixture) -> None:
    _server, stubs = running
    caplog.set_level(logging.WARNING)
    for what, body in bodies(descriptor):
        error = rich_error(call_raw(stubs.channel, method, client_streaming, server_streaming, body))
        assert error.code == grpc.StatusCode.INVALID_ARGUMENT, (what, error.code, error.message)
        assert error.error_info is not None and error.error_info.reason == "MALFORMED_REQUEST", what
        assert error.error_info.metadata["method"] == method
    noisy = [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info or "Traceback" in r.getMessage()]
    assert not noisy, [r.getMessage() for r in noisy]


def test_structs_nested_deeper_than_the_decoder_allows_are_invalid_argument(
        running: tuple[InProcessServer, Stubs]) -> None:
    _server, stubs = running
    attributes = pb.Project.DESCRIPTOR.fields_by_name["attributes"].number
    project = pb.CreateProjectRequest.DESCRIPTOR.fields_by_name["project"].number
    body = length_delimited(project, length_delimited(attributes, deep_struct(40)))
    error = rich_error(call_raw(stubs.channel, "/duckdb_spawn.v1.ProjectService/CreateProject", False, False, body))
    assert error.code == grpc.StatusCode.INVALID_ARGUMENT and error.error_info.reason == "MALFORMED_REQUEST"
    row = length_delimited(1, deep_struct(40))  # ImportProjectsRequest.struct_rows.rows[0]
    struct_rows_field = pb.ImportProjectsRequest.DESCRIPTOR.fields_by_name["struct_rows"].number
    message = length_delimited(struct_rows_field, row)
    error = rich_error(call_raw(stubs.channel, "/duckdb_spawn.v1.ProjectService/ImportProjects", True, False,
                                message))
    assert error.code == grpc.StatusCode.INVALID_ARGUMENT and error.error_info.reason == "MALFORMED_REQUEST"
    # A shallow Struct of the same shape is fine: the limit is protobuf's, not ours.
    assert pb.CreateProjectRequest.FromString(length_delimited(project, length_delimited(attributes, deep_struct(5))))


def test_a_flood_of_junk_logs_one_warning_line_and_no_traceback(tmp_path: Path,
                                                                caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    with in_process_server(tmp_path / "db.duckdb") as (_server, stubs):
        for _ in range(200):
            call_raw(stubs.channel, "/duckdb_spawn.v1.ProjectService/GetProject", False, False, b"\xff\xff")
        assert stubs.health_status() == health_pb2.HealthCheckResponse.SERVING
    refusals = [r for r in caplog.records if r.getMessage() == "undecodable request refused"]
    assert len(refusals) == 1 and refusals[0].levelno == logging.WARNING
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]


def arrow_message(table: pa.Table) -> pb.ImportProjectsRequest:
    sink = io.BytesIO()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return pb.ImportProjectsRequest(mode=pb.IMPORT_MODE_ATOMIC, arrow_ipc=sink.getvalue())


def test_arrow_string_views_import_like_strings(running: tuple[InProcessServer, Stubs]) -> None:
    _server, stubs = running
    attributes = valid_attributes(project_name="viewed", description="a string_view column")
    table = pa.table({name: pa.array([value], pa.string_view() if isinstance(value, str) else None)
                      for name, value in attributes.items()})
    assert pa.types.is_string_view(table.schema.field("project_name").type)
    report = stubs.projects.ImportProjects(iter([arrow_message(table)]), timeout=30)
    assert report.imported_count == 1 and report.failed_count == 0
    listed = stubs.projects.ListProjects(pb.ListProjectsRequest(filter='project_name = "viewed"'))
    assert listed.projects[0].attributes["description"] == "a string_view column"


def test_an_arrow_string_column_with_invalid_utf8_is_invalid_argument_naming_the_column(
        running: tuple[InProcessServer, Stubs]) -> None:
    _server, stubs = running
    before = stubs.projects.ListProjects(pb.ListProjectsRequest()).total_size
    raw = b"ok\xc0\xaf"
    offsets = pa.py_buffer(b"".join(n.to_bytes(4, "little") for n in (0, len(raw))))
    bad = pa.Array.from_buffers(pa.string(), 1, [None, offsets, pa.py_buffer(raw)])
    columns = {name: pa.array([value]) for name, value in valid_attributes().items() if name != "description"}
    table = pa.table({**columns, "description": bad})
    try:
        stubs.projects.ImportProjects(iter([arrow_message(table)]), timeout=30)
        raise AssertionError("invalid UTF-8 was imported")
    except grpc.RpcError as raised:
        error = rich_error(raised)
    assert error.code == grpc.StatusCode.INVALID_ARGUMENT
    assert error.error_info is not None and error.error_info.metadata["column"] == "description"
    assert "UTF-8" in error.message
    assert stubs.projects.ListProjects(pb.ListProjectsRequest()).total_size == before
