"""The single writer commits concurrent writes in groups; a bad write fails alone."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor

import grpc
from duckdb_spawn.v1 import project_service_pb2 as pb

from tests.support.rpc import create_request, rich_error
from tests.support.servers import InProcessServer, Stubs


def test_200_concurrent_creates_one_invalid_at_the_database(server: tuple[InProcessServer, Stubs]) -> None:
    app, stubs = server[0].app, server[1]
    taken = uuid.uuid4()
    stubs.projects.CreateProject(create_request(project_id=taken))  # its id will collide below
    before = app.storage.writer.stats()
    requests = [create_request(project_id=uuid.uuid4(), project_name=f"p{i}") for i in range(200)]
    bad_index = 117
    requests[bad_index] = create_request(project_id=taken, project_name="duplicate")

    def call(request: pb.CreateProjectRequest) -> pb.Project | grpc.RpcError:
        try:
            return stubs.projects.CreateProject(request, timeout=60)
        except grpc.RpcError as error:
            return error

    with ThreadPoolExecutor(max_workers=50) as pool:
        results = list(pool.map(call, requests))

    failures = {i: r for i, r in enumerate(results) if isinstance(r, grpc.RpcError)}
    assert list(failures) == [bad_index]
    error = rich_error(failures[bad_index])
    assert error.code == grpc.StatusCode.ALREADY_EXISTS
    assert error.error_info.metadata["resource_name"] == f"projects/{taken}"
    for i, result in enumerate(results):
        if i != bad_index:
            stored = stubs.projects.GetProject(pb.GetProjectRequest(name=result.name))
            assert stored == result
    assert stubs.projects.ListProjects(pb.ListProjectsRequest(page_size=1)).total_size == 200
    # The original holder of the id is untouched.
    original = stubs.projects.GetProject(pb.GetProjectRequest(name=f"projects/{taken}"))
    assert original.attributes["project_name"] == "Solar farm"
    after = app.storage.writer.stats()
    committed = after.ops_committed - before.ops_committed
    groups = after.groups_committed - before.groups_committed
    assert committed == 199
    assert groups < committed, "concurrent writes were not grouped"
