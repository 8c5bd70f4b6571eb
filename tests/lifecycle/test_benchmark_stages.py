"""The benchmark's staged server switches off exactly what each stage says (README "Benchmarks")."""

from __future__ import annotations

import sys
from pathlib import Path

import grpc
import pytest
from duckdb_spawn.v1 import project_service_pb2 as pb

from tests.benchmarks.staged_server import STAGES
from tests.support.rpc import create_request
from tests.support.servers import ServerProcess, Stubs, base_env

CANNED = pb.Project(name="projects/00000000-0000-4000-8000-000000000000", etag="canned")
# stage -> (the call pipeline runs, CreateProject is the real one, the row reaches DuckDB)
EXPECTED = {
    "full": (True, True, True),
    "no-commit": (True, True, False),
    "no-write": (True, True, False),
    "pipeline-only": (True, False, False),
    "bare": (False, False, False),
}


def test_every_stage_is_described() -> None:
    assert set(EXPECTED) == set(STAGES)


@pytest.mark.parametrize("stage", STAGES)
def test_stage_runs_what_it_names(stage: str, tmp_path: Path) -> None:
    piped, real_create, stored = EXPECTED[stage]
    server = ServerProcess({**base_env(tmp_path / "stage.duckdb"), "BENCH_STAGE": stage,
                            "BENCH_CANNED_HEX": CANNED.SerializeToString().hex()},
                           command=[sys.executable, "-m", "tests.benchmarks.staged_server"])
    try:
        server.wait_serving()
        channel = grpc.insecure_channel(server.target)
        stubs = Stubs(channel)
        server.wait_ready(stubs)
        request = create_request(project_name=f"stage {stage}")
        project, call = stubs.projects.CreateProject.with_call(request)
        trailers = dict(call.trailing_metadata() or ())
        assert ("x-request-id" in trailers) is piped  # the pipeline returns the correlation id
        if real_create:
            assert project.name.startswith("projects/") and project.etag != "canned"
            assert project.attributes["project_name"] == f"stage {stage}"
        else:
            assert project == CANNED
        if stage in ("full", "no-commit", "no-write"):
            total = stubs.projects.ListProjects(pb.ListProjectsRequest()).total_size
            assert total == (1 if stored else 0)
    finally:
        server.close()
