"""GetProject answers from memory, and never with a state older than an acknowledged write.

The read cache is written through by the single writer right after each
commit, so every write path is covered here: creates, updates (plain, with
an etag and a mask, replayed by request id), deletes, batches, imports,
and the table operations that change or drop what rows look like. Schema
migrations are covered row by row by tests/tables/test_update_table.py.
"""

from __future__ import annotations

import threading
import uuid
from pathlib import Path

import grpc
import pyarrow as pa
import pytest
from duckdb_spawn.v1 import admin_service_pb2 as admin_pb
from duckdb_spawn.v1 import project_service_pb2 as pb

from tests.support.rpc import call_error, create_request, valid_attributes
from tests.support.servers import Stubs, in_process_server

MATURITY = "maturity_years"


def get(stubs: Stubs, name: str) -> pb.Project:
    return stubs.projects.GetProject(pb.GetProjectRequest(name=name), timeout=10)


def gone(stubs: Stubs, name: str) -> bool:
    return call_error(stubs.projects.GetProject, pb.GetProjectRequest(name=name)).code == grpc.StatusCode.NOT_FOUND


def update(stubs: Stubs, name: str, **attributes: object) -> pb.Project:
    request = pb.UpdateProjectRequest(project=pb.Project(name=name))
    request.project.attributes.update(attributes)
    return stubs.projects.UpdateProject(request, timeout=10)


def arrow_import(names: list[str]) -> pb.ImportProjectsRequest:
    table = pa.Table.from_pylist([{**valid_attributes(project_name=n), MATURITY: 3} for n in names])
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return pb.ImportProjectsRequest(arrow_ipc=sink.getvalue().to_pybytes())


def test_every_write_path_is_seen_by_the_next_read(tmp_path: Path) -> None:
    with in_process_server(tmp_path / "db.duckdb") as (server, stubs):
        cache = server.app.record_cache
        created = stubs.projects.CreateProject(create_request(project_name="one"))
        assert get(stubs, created.name) == created

        updated = update(stubs, created.name, status="COMPLETED")
        assert get(stubs, created.name) == updated != created

        masked = pb.UpdateProjectRequest(project=pb.Project(name=created.name, etag=updated.etag))
        masked.project.attributes.update({"description": "masked"})
        masked.update_mask.paths.append("attributes.description")
        after_mask = stubs.projects.UpdateProject(masked, timeout=10)
        assert get(stubs, created.name) == after_mask and after_mask.attributes["description"] == "masked"

        request_id = str(uuid.uuid4())
        replayed = pb.UpdateProjectRequest(project=pb.Project(name=created.name), request_id=request_id)
        replayed.project.attributes.update({"status": "ACTIVE"})
        first = stubs.projects.UpdateProject(replayed, timeout=10)
        assert get(stubs, created.name) == first
        assert stubs.projects.UpdateProject(replayed, timeout=10) == first  # the retry writes nothing
        assert get(stubs, created.name) == first

        stubs.projects.DeleteProject(pb.DeleteProjectRequest(name=created.name), timeout=10)
        assert gone(stubs, created.name)

        batch = stubs.projects.BatchCreateProjects(pb.BatchCreateProjectsRequest(requests=[
            create_request(project_name=f"batch {i}") for i in range(3)]), timeout=10).projects
        assert [get(stubs, p.name) for p in batch] == list(batch)
        update(stubs, batch[0].name, status="PROPOSED")

        stubs.projects.ImportProjects(iter([arrow_import(["imported 1", "imported 2"])]), timeout=30)
        listed = stubs.projects.ListProjects(pb.ListProjectsRequest(page_size=100), timeout=10).projects
        assert len(listed) == 5 and all(get(stubs, p.name) == p for p in listed)
        assert cache.hits > 0, "the reads above should have been answered from memory"

        # Table operations: rows dropped with their table are gone from memory too.
        stubs.admin.DeleteTable(admin_pb.DeleteTableRequest(name="tables/projects", force=True), timeout=30)
        stubs.admin.CreateTables(admin_pb.CreateTablesRequest(), timeout=30)
        assert all(gone(stubs, p.name) for p in listed)
        again = stubs.projects.CreateProject(create_request(project_name="again"))
        assert get(stubs, again.name) == again
        stubs.admin.DeleteTable(admin_pb.DeleteTableRequest(name="tables/projects", force=True), timeout=30)
        stubs.projects.InitializeDatabase(pb.InitializeDatabaseRequest(), timeout=30)
        assert gone(stubs, again.name)


@pytest.mark.parametrize("readers", [4])
def test_a_read_never_returns_a_state_older_than_the_last_acknowledged_write(tmp_path: Path, readers: int) -> None:
    """One writer counts up; readers check that no answer is older than what was acknowledged before they asked."""
    with in_process_server(tmp_path / "db.duckdb") as (server, stubs):
        name = stubs.projects.CreateProject(create_request(project_name="counter", **{MATURITY: 0})).name
        acknowledged = [0]
        stop = threading.Event()
        stale: list[tuple[int, int]] = []
        reads = [0]

        def write() -> None:
            for value in range(1, 201):
                update(stubs, name, **{MATURITY: value})
                acknowledged[0] = value
            stop.set()

        def read() -> None:
            while not stop.is_set():
                before = acknowledged[0]
                seen = int(get(stubs, name).attributes[MATURITY])
                reads[0] += 1
                if seen < before:
                    stale.append((before, seen))

        threads = [threading.Thread(target=write)] + [threading.Thread(target=read) for _ in range(readers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
        assert stop.is_set() and reads[0] > 200
        assert not stale, f"reads older than an acknowledged write: {stale[:5]}"
        assert int(get(stubs, name).attributes[MATURITY]) == 200
        assert server.app.record_cache.hits > 0


def test_list_pages_and_totals_are_reused_until_the_table_changes(tmp_path: Path) -> None:
    with in_process_server(tmp_path / "db.duckdb") as (server, stubs):
        stubs.projects.BatchCreateProjects(pb.BatchCreateProjectsRequest(requests=[
            create_request(project_name=f"p{i}", status="ACTIVE") for i in range(5)]), timeout=10)
        request = pb.ListProjectsRequest(filter='status = "ACTIVE"', order_by="project_name", page_size=2)
        first = stubs.projects.ListProjects(request, timeout=10)
        assert first.total_size == 5 and [p.attributes["project_name"] for p in first.projects] == ["p0", "p1"]
        pool = server.app.storage.pool
        queries = pool.stats().acquired_total
        assert stubs.projects.ListProjects(request, timeout=10) == first
        assert pool.stats().acquired_total == queries, "an unchanged table was queried again"
        # Every write path that changes the table makes the next page fresh.
        added = stubs.projects.CreateProject(create_request(project_name="p00", status="ACTIVE"))
        second = stubs.projects.ListProjects(request, timeout=10)
        assert second.total_size == 6 and [p.attributes["project_name"] for p in second.projects] == ["p0", "p00"]
        update(stubs, added.name, status="COMPLETED")
        third = stubs.projects.ListProjects(request, timeout=10)
        assert third.total_size == 5 and third.projects == first.projects
        stubs.projects.DeleteProject(pb.DeleteProjectRequest(name=first.projects[0].name), timeout=10)
        assert stubs.projects.ListProjects(request, timeout=10).total_size == 4
        stubs.projects.ImportProjects(iter([arrow_import(["imported"])]), timeout=30)
        imported = stubs.projects.ListProjects(pb.ListProjectsRequest(filter='project_name = "imported"'))
        assert imported.total_size == 1
