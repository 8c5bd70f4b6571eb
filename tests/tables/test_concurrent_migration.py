"""Writes during additive migrations: each succeeds or fails retryably, and no acknowledged write is lost."""

from __future__ import annotations

import threading
from pathlib import Path

import grpc
from duckdb_spawn.v1 import admin_service_pb2 as admin_pb
from duckdb_spawn.v1 import project_service_pb2 as pb

from tests.support.ontology import running_ontology
from tests.support.rpc import create_request
from tests.support.servers import wait_until
from tests.tables.conftest import document, start_migrating

WRITERS = 8
MAX_CALLS_PER_WRITER = 400  # bounded, whatever happens
RETRYABLE = {grpc.StatusCode.ABORTED, grpc.StatusCode.UNAVAILABLE}
MIGRATIONS = [
    document("v2", extra=[{"name": "sponsor", "type": "VARCHAR"}]),
    document("v3", extra=[{"name": "sponsor", "type": "VARCHAR"},
                          {"name": "region", "type": "VARCHAR", "required": True, "default": "EU"}]),
    document("v4", maturity_years={"type": "BIGINT"},
             extra=[{"name": "sponsor", "type": "VARCHAR"},
                    {"name": "region", "type": "VARCHAR", "required": True, "default": "EU"}]),
]


def test_creates_during_additive_migrations_succeed_or_fail_retryably_and_none_is_lost(tmp_path: Path) -> None:
    with running_ontology(tmp_path / "ontology", document("v1")) as ontology, \
            start_migrating(tmp_path, ontology, AUTO_MIGRATE="additive") as migrating:
        acknowledged: list[pb.Project] = []
        failures: list[grpc.StatusCode] = []
        lock = threading.Lock()
        stop = threading.Event()

        def writer(index: int) -> None:
            for call in range(MAX_CALLS_PER_WRITER):
                if stop.is_set():
                    return
                try:
                    project = migrating.stubs.projects.CreateProject(
                        create_request(project_name=f"w{index}-{call}"), timeout=30)
                except grpc.RpcError as error:
                    with lock:
                        failures.append(error.code())
                    continue
                with lock:
                    acknowledged.append(project)

        threads = [threading.Thread(target=writer, args=(i,)) for i in range(WRITERS)]
        for thread in threads:
            thread.start()
        try:
            for doc in MIGRATIONS:
                done = len(acknowledged) + len(failures)
                wait_until(lambda d=done: len(acknowledged) + len(failures) >= d + 40, 60, "writes in flight")
                result = migrating.publish(doc)
                assert result.outcome == admin_pb.REFRESH_OUTCOME_UPDATED, result.message
                assert result.applied_steps and not result.pending_steps
        finally:
            stop.set()
            for thread in threads:
                thread.join(60)
        assert set(failures) <= RETRYABLE, failures
        assert migrating.table().in_sync and migrating.table().schema_version == "v4"
        # Every acknowledged project is there, with what it was created with; nothing else was written.
        for project in acknowledged:
            stored = migrating.stubs.projects.GetProject(pb.GetProjectRequest(name=project.name))
            assert {k: stored.attributes[k] for k in project.attributes} == dict(project.attributes)
        total = migrating.stubs.projects.ListProjects(pb.ListProjectsRequest(page_size=1)).total_size
        assert total == len(acknowledged) + len(migrating.projects)
