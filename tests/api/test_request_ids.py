"""Request ids (AIP-155): a replay returns the first result and writes nothing, also after a restart."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import grpc
import pyarrow as pa
from duckdb_spawn.v1 import project_service_pb2 as pb
from duckdb_spawn_server.domain.request_ids import RequestKey
from google.protobuf import field_mask_pb2

from tests.support.rpc import call_error, create_request, valid_attributes
from tests.support.servers import Stubs, in_process_server
from tests.support.stack import storage_stack


def count(stubs: Stubs) -> int:
    return stubs.projects.ListProjects(pb.ListProjectsRequest(page_size=1)).total_size


def with_id(request: Any, request_id: str) -> Any:
    request.request_id = request_id
    return request


def import_messages(request_id: str, names: list[str], bad: int | None = None) -> list[pb.ImportProjectsRequest]:
    rows = pb.StructRows()
    for index, name in enumerate(names):
        rows.rows.add().update(valid_attributes(project_name=name, dscr="1000" if index == bad else "1.20"))
    table = pa.table({"project_name": [f"{n} (arrow)" for n in names], "total_amount": ["10.00"] * len(names),
                      "maturity_years": [5] * len(names), "expected_tri": ["1.00"] * len(names),
                      "dscr": ["1.10"] * len(names)})
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return [pb.ImportProjectsRequest(mode=pb.IMPORT_MODE_BEST_EFFORT, request_id=request_id, struct_rows=rows),
            pb.ImportProjectsRequest(arrow_ipc=sink.getvalue().to_pybytes())]


def test_replays_before_and_after_a_restart_write_nothing_twice(tmp_path: Path) -> None:
    db = tmp_path / "requests.duckdb"
    create_id, update_id, batch_id, import_id = (str(uuid.uuid4()) for _ in range(4))
    batch = pb.BatchCreateProjectsRequest(requests=[create_request(project_name=f"b{i}") for i in range(3)])
    with in_process_server(db) as (_, stubs):
        created = stubs.projects.CreateProject(with_id(create_request(project_name="once"), create_id))
        update = pb.UpdateProjectRequest(update_mask=field_mask_pb2.FieldMask(paths=["attributes.total_amount"]))
        update.project.name = created.name
        update.project.etag = created.etag
        update.project.attributes.update({"total_amount": "77.70"})
        updated = stubs.projects.UpdateProject(with_id(update, update_id))
        batched = stubs.projects.BatchCreateProjects(with_id(batch, batch_id))
        imported = stubs.projects.ImportProjects(iter(import_messages(import_id, ["i1", "i2"])))
        assert (imported.received_count, imported.imported_count) == (4, 4)
        total = count(stubs)
        assert total == 1 + 3 + 4

        def replay_everything(stubs: Stubs) -> None:
            assert stubs.projects.CreateProject(with_id(create_request(project_name="once"), create_id)) == created
            # The update's etag is stale by now, yet the replay returns the first result.
            assert stubs.projects.UpdateProject(update) == updated
            assert stubs.projects.BatchCreateProjects(batch) == batched
            assert stubs.projects.ImportProjects(iter(import_messages(import_id, ["i1", "i2"]))) == imported
            assert count(stubs) == total
            assert stubs.projects.GetProject(pb.GetProjectRequest(name=created.name)) == updated

        replay_everything(stubs)
    with in_process_server(db) as (_, stubs):
        replay_everything(stubs)


def test_a_later_change_is_not_undone_by_a_replayed_update(stubs: Stubs) -> None:
    created = stubs.projects.CreateProject(create_request())
    request_id = str(uuid.uuid4())
    update = pb.UpdateProjectRequest()
    update.project.name = created.name
    update.project.attributes.update({"status": "COMPLETED"})
    first = stubs.projects.UpdateProject(with_id(update, request_id))
    later = pb.UpdateProjectRequest()
    later.project.name = created.name
    later.project.attributes.update({"status": "PROPOSED"})
    current = stubs.projects.UpdateProject(later)
    assert stubs.projects.UpdateProject(update) == first
    assert stubs.projects.GetProject(pb.GetProjectRequest(name=created.name)) == current


def test_reusing_a_request_id_for_another_request_is_invalid_argument(stubs: Stubs) -> None:
    request_id = str(uuid.uuid4())
    stubs.projects.CreateProject(with_id(create_request(project_name="first"), request_id))
    before = count(stubs)
    attempts: list[Callable[[], Any]] = [
        lambda: stubs.projects.CreateProject(with_id(create_request(project_name="second"), request_id)),
        lambda: stubs.projects.BatchCreateProjects(with_id(pb.BatchCreateProjectsRequest(
            requests=[create_request(project_name="first")]), request_id)),
        lambda: stubs.projects.ImportProjects(iter(import_messages(request_id, ["x"]))),
    ]
    for attempt in attempts:
        error = call_error(attempt)
        assert error.code == grpc.StatusCode.INVALID_ARGUMENT
        assert error.error_info.reason == "REQUEST_ID_REUSED"
        assert error.violations == {"request_id": "REQUEST_ID_REUSED"}
    assert count(stubs) == before
    bad = call_error(stubs.projects.CreateProject, with_id(create_request(), "not-a-uuid"))
    assert bad.code == grpc.StatusCode.INVALID_ARGUMENT and bad.violations == {"request_id": "INVALID_FORMAT"}


def test_concurrent_copies_of_one_request_create_one_project(stubs: Stubs) -> None:
    request = with_id(create_request(project_name="racing copies"), str(uuid.uuid4()))
    barrier = threading.Barrier(8)
    results: list[pb.Project] = []

    def send() -> None:
        barrier.wait(10)
        results.append(stubs.projects.CreateProject(request, timeout=30))

    threads = [threading.Thread(target=send) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert len(results) == 8 and all(r == results[0] for r in results)
    assert count(stubs) == 1


def test_request_ids_expire_after_the_retention_window(tmp_path: Path) -> None:
    now = [datetime(2026, 1, 1, 12, 0)]
    document = {"name": "things", "columns": [{"name": "id", "type": "UUID"}, {"name": "label", "type": "VARCHAR"}]}
    with storage_stack(tmp_path / "expiry.duckdb", "thing_schema", document, clock=lambda: now[0],
                       retention=timedelta(hours=1)) as stack:
        key = RequestKey(str(uuid.uuid4()), "CreateProject", "fingerprint")
        first = stack.manager.create({"label": "a"}, request=key)
        now[0] += timedelta(minutes=59)
        assert stack.manager.create({"label": "a"}, request=key).project_id == first.project_id
        now[0] += timedelta(minutes=2)  # 61 minutes after the first call: forgotten
        second = stack.manager.create({"label": "a"}, request=key)
        assert second.project_id != first.project_id
        assert stack.manager.list(10).total_size == 2
        assert stack.manager.create({"label": "a"}, request=key).project_id == second.project_id
