"""An acknowledged write survives kill -9."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import grpc
from duckdb_spawn.v1 import project_service_pb2 as pb

from tests.support.rpc import create_request
from tests.support.servers import ServerProcess, Stubs, base_env


def test_acknowledged_projects_survive_kill_9(tmp_path: Path) -> None:
    db = tmp_path / "crash.duckdb"
    server = ServerProcess(base_env(db))
    try:
        server.wait_serving()
        channel = grpc.insecure_channel(server.target)
        stubs = Stubs(channel)
        server.wait_ready(stubs)
        with ThreadPoolExecutor(16) as pool:
            acknowledged = list(pool.map(
                lambda i: stubs.projects.CreateProject(create_request(project_name=f"k{i}",
                                                                     total_amount=f"{i}.{i % 100:02d}")),
                range(300)))
        updated_request = pb.UpdateProjectRequest()
        updated_request.project.name = acknowledged[0].name
        updated_request.project.attributes.update({"status": "COMPLETED"})
        updated = stubs.projects.UpdateProject(updated_request)
        stubs.projects.DeleteProject(pb.DeleteProjectRequest(name=acknowledged[1].name))
        channel.close()
        server.kill9()
    finally:
        server.close()

    restarted = ServerProcess(base_env(db))
    try:
        restarted.wait_serving()
        stubs = Stubs(grpc.insecure_channel(restarted.target))
        restarted.wait_ready(stubs)
        assert stubs.projects.ListProjects(pb.ListProjectsRequest(page_size=1)).total_size == 299
        assert stubs.projects.GetProject(pb.GetProjectRequest(name=updated.name)) == updated
        for project in acknowledged[2:]:
            assert stubs.projects.GetProject(pb.GetProjectRequest(name=project.name)) == project
        try:
            stubs.projects.GetProject(pb.GetProjectRequest(name=acknowledged[1].name))
            raise AssertionError("a deleted project came back")
        except grpc.RpcError as error:
            assert error.code() == grpc.StatusCode.NOT_FOUND
    finally:
        restarted.close()
