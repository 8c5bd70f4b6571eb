"""A logged request id survives kill -9: the retry after the crash still writes nothing."""

from __future__ import annotations

import uuid
from pathlib import Path

import grpc
import pyarrow as pa
from duckdb_spawn.v1 import project_service_pb2 as pb

from tests.support.rpc import create_request
from tests.support.servers import ServerProcess, Stubs, base_env


def arrow_import(request_id: str, rows: int) -> list[pb.ImportProjectsRequest]:
    table = pa.table({"project_name": [f"crash {i}" for i in range(rows)], "total_amount": ["1.00"] * rows,
                      "maturity_years": [3] * rows, "expected_tri": ["2.00"] * rows, "dscr": ["1.30"] * rows})
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return [pb.ImportProjectsRequest(mode=pb.IMPORT_MODE_ATOMIC, request_id=request_id,
                                     arrow_ipc=sink.getvalue().to_pybytes())]


def started(db: Path) -> tuple[ServerProcess, Stubs]:
    server = ServerProcess(base_env(db))
    server.wait_serving()
    stubs = Stubs(grpc.insecure_channel(server.target))
    server.wait_ready(stubs)
    return server, stubs


def test_replays_after_kill_9_return_the_first_results(tmp_path: Path) -> None:
    db = tmp_path / "crash.duckdb"
    create = create_request(project_name="crash once")
    create.request_id = str(uuid.uuid4())
    import_id = str(uuid.uuid4())
    server, stubs = started(db)
    try:
        created = stubs.projects.CreateProject(create)
        imported = stubs.projects.ImportProjects(iter(arrow_import(import_id, 500)))
        assert imported.imported_count == 500
        stubs.channel.close()
        server.kill9()
    finally:
        server.close()

    server, stubs = started(db)
    try:
        assert stubs.projects.CreateProject(create) == created
        assert stubs.projects.ImportProjects(iter(arrow_import(import_id, 500))) == imported
        assert stubs.projects.ListProjects(pb.ListProjectsRequest(page_size=1)).total_size == 501
    finally:
        stubs.channel.close()
        server.close()
