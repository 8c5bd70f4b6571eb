"""The change feed and point-in-time reads over a real server and DuckDB file (issue 19).

Every committed create, update and delete (batches, imports and DeleteTable
included) has a position; ListProjects and ExportProjects tell the position of
their snapshot; WatchProjects and ListProjectChanges deliver what follows.
tests/lake/test_change_feed_on_lake.py runs this module again on a lake.
"""

from __future__ import annotations

import base64
import queue
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import grpc
import pytest
from duckdb_spawn.v1 import admin_service_pb2 as admin_pb
from duckdb_spawn.v1 import project_service_pb2 as pb
from google.protobuf import duration_pb2, field_mask_pb2, timestamp_pb2

from tests.support.rpc import call_error, create_request, valid_attributes
from tests.support.servers import Stubs, in_process_server, wait_until

CREATED = pb.ProjectChange.CHANGE_TYPE_CREATED
UPDATED = pb.ProjectChange.CHANGE_TYPE_UPDATED
DELETED = pb.ProjectChange.CHANGE_TYPE_DELETED


# -- helpers ----------------------------------------------------------------------------------------
def list_all(stubs: Stubs, **fields: Any) -> tuple[dict[str, pb.Project], str]:
    """Every project (all pages, one snapshot) and the listing's read position."""
    projects: dict[str, pb.Project] = {}
    token, position = "", ""
    for _ in range(1000):
        page = stubs.projects.ListProjects(pb.ListProjectsRequest(page_size=37, page_token=token, **fields))
        position = position or page.read_position
        assert page.read_position == position, "every page of a listing reads the same snapshot"
        projects.update((p.name, p) for p in page.projects)
        token = page.next_page_token
        if not token:
            return projects, position
    raise AssertionError("the listing did not end")


def changes_after(stubs: Stubs, position: str, page_size: int = 100) -> tuple[list[pb.ProjectChange], str]:
    changes: list[pb.ProjectChange] = []
    token = ""
    for _ in range(10_000):
        page = stubs.projects.ListProjectChanges(pb.ListProjectChangesRequest(
            start_position=position if not token else "", page_token=token, page_size=page_size))
        changes.extend(page.changes)
        token = page.next_page_token
        if not token:
            return changes, page.position
    raise AssertionError("the change listing did not end")


def apply(state: dict[str, pb.Project], changes: list[pb.ProjectChange]) -> None:
    for change in changes:
        if change.change_type == DELETED:
            assert state.pop(change.project.name).etag == change.project.etag, "a delete names the etag it removed"
        else:
            state[change.project.name] = change.project


def same_state(left: dict[str, pb.Project], right: dict[str, pb.Project]) -> None:
    assert sorted(left) == sorted(right)
    for name, project in right.items():
        assert left[name] == project, name


def timestamp(when: datetime) -> timestamp_pb2.Timestamp:
    stamp = timestamp_pb2.Timestamp()
    stamp.FromDatetime(when)
    return stamp


def now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


class Watcher:
    """A WatchProjects stream read by a thread into a queue (bounded by the test's deadlines)."""

    def __init__(self, stubs: Stubs, **request: Any) -> None:
        self.responses: queue.Queue[pb.WatchProjectsResponse | grpc.RpcError] = queue.Queue()
        self.call = stubs.projects.WatchProjects(pb.WatchProjectsRequest(**request))
        self.changes: list[pb.ProjectChange] = []
        self.position = ""
        self.error: grpc.RpcError | None = None
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        try:
            for response in self.call:
                self.responses.put(response)
        except grpc.RpcError as error:
            self.responses.put(error)

    def next(self, timeout: float = 15) -> pb.WatchProjectsResponse:
        item = self.responses.get(timeout=timeout)
        if isinstance(item, grpc.RpcError):
            self.error = item
            raise item
        self.changes.extend(item.changes)
        self.position = item.position
        return item

    def until(self, done: Any, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while not done(self):
            left = deadline - time.monotonic()
            assert left > 0, f"the watcher did not get there: {len(self.changes)} changes"
            self.next(timeout=left)

    def close(self) -> None:
        self.call.cancel()
        self._thread.join(timeout=10)


@pytest.fixture
def watchers() -> Iterator[list[Watcher]]:
    opened: list[Watcher] = []
    yield opened
    for watcher in opened:
        watcher.close()


def struct_import(stubs: Stubs, names: list[str]) -> pb.ImportProjectsResponse:
    rows = pb.StructRows()
    for name in names:
        rows.rows.add().update(valid_attributes(project_name=name))
    return stubs.projects.ImportProjects(iter([pb.ImportProjectsRequest(mode=pb.IMPORT_MODE_ATOMIC,
                                                                        struct_rows=rows)]))


def update(stubs: Stubs, project: pb.Project, **attributes: Any) -> pb.Project:
    request = pb.UpdateProjectRequest(update_mask=field_mask_pb2.FieldMask(
        paths=[f"attributes.{k}" for k in attributes]))
    request.project.name = project.name
    request.project.etag = project.etag
    request.project.attributes.update(attributes)
    return stubs.projects.UpdateProject(request)


# -- the feed ---------------------------------------------------------------------------------------
def test_every_kind_of_change_is_listed_in_order_with_the_project_after_it(stubs: Stubs) -> None:
    _, start = list_all(stubs)
    created = stubs.projects.CreateProject(create_request(project_name="first"))
    updated = update(stubs, created, status="COMPLETED")
    batch = stubs.projects.BatchCreateProjects(pb.BatchCreateProjectsRequest(
        requests=[create_request(project_name=f"b{i}") for i in range(3)])).projects
    imported = struct_import(stubs, ["i1", "i2"])
    assert imported.imported_count == 2
    stubs.projects.DeleteProject(pb.DeleteProjectRequest(name=updated.name))

    changes, reached = changes_after(stubs, start, page_size=2)  # paged: the pages join without gap or overlap
    kinds = [c.change_type for c in changes]
    assert kinds == [CREATED, UPDATED, CREATED, CREATED, CREATED, CREATED, CREATED, DELETED]
    assert changes[0].project == created and changes[1].project == updated
    assert [c.project for c in changes[2:5]] == list(batch)
    assert sorted(c.project.attributes["project_name"] for c in changes[5:7]) == ["i1", "i2"]
    assert changes[7].project == pb.Project(name=updated.name, etag=updated.etag)  # name and etag only
    positions = [c.position for c in changes]
    assert len(set(positions)) == len(positions) and reached == positions[-1]
    times = [c.commit_time.ToDatetime() for c in changes]
    assert times == sorted(times) and now() - times[0] < timedelta(minutes=5)
    # Nothing after the last change, and a listing now reads at its position.
    assert changes_after(stubs, reached) == ([], reached)
    assert list_all(stubs)[1] == reached


def test_rows_removed_by_delete_table_are_deletes_in_the_feed(stubs: Stubs) -> None:
    made = [stubs.projects.CreateProject(create_request(project_name=f"d{i}")) for i in range(3)]
    _, position = list_all(stubs)
    stubs.admin.DeleteTable(admin_pb.DeleteTableRequest(name="tables/projects", force=True))
    changes, _ = changes_after(stubs, position)
    assert {(c.change_type, c.project.name, c.project.etag) for c in changes} == {
        (DELETED, p.name, p.etag) for p in made}


def test_list_then_watch_under_concurrent_writers_rebuilds_the_final_state(
        stubs: Stubs, watchers: list[Watcher]) -> None:
    """Three writers (creates; updates and deletes; a batch and an import), a list taken while they write,
    then a watch from the list's position: every acknowledged change once, in order, and the state rebuilt
    from list + watch equals the final listing."""
    seeds = [stubs.projects.CreateProject(create_request(project_name=f"seed{i}")) for i in range(30)]
    early = Watcher(stubs)  # from now: started before the writers
    watchers.append(early)
    early.next()
    acknowledged: list[tuple[int, str, str]] = []
    lock = threading.Lock()
    errors: list[BaseException] = []

    def acked(kind: int, project: pb.Project) -> None:
        with lock:
            acknowledged.append((kind, project.name, project.etag))

    def creates() -> None:
        for i in range(40):
            acked(CREATED, stubs.projects.CreateProject(create_request(project_name=f"c{i}")))

    def updates_and_deletes() -> None:
        for i, seed in enumerate(seeds):
            if i % 3 == 0:
                stubs.projects.DeleteProject(pb.DeleteProjectRequest(name=seed.name, etag=seed.etag))
                acked(DELETED, seed)
            else:
                current = seed
                for years in ([i + 1] if i % 2 == 0 else [i + 1, i + 2]):  # some twice
                    current = update(stubs, current, maturity_years=years)
                    acked(UPDATED, current)

    def bulk() -> None:
        for project in stubs.projects.BatchCreateProjects(pb.BatchCreateProjectsRequest(
                requests=[create_request(project_name=f"batch{i}") for i in range(5)])).projects:
            acked(CREATED, project)
        assert struct_import(stubs, [f"imp{i}" for i in range(7)]).imported_count == 7

    def run(fn: Any) -> None:
        try:
            fn()
        except BaseException as error:  # noqa: BLE001 - reported by the test
            errors.append(error)

    threads = [threading.Thread(target=run, args=(fn,)) for fn in (creates, updates_and_deletes, bulk)]
    for thread in threads:
        thread.start()
    listed, read_position = list_all(stubs)  # while they write
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors

    final, final_position = list_all(stubs)
    late = Watcher(stubs, start_position=read_position)
    watchers.append(late)
    late.until(lambda w: w.position == final_position)
    early.until(lambda w: w.position == final_position)

    for watcher in (early, late):
        positions = [c.position for c in watcher.changes]
        assert len(set(positions)) == len(positions), "no change twice"
    ordered = early.changes
    # The stream's order is the log's: ListProjectChanges from the same start gives the same sequence.
    assert [c.position for c in changes_after(stubs, ordered[0].position)[0]] == [c.position for c in ordered[1:]]
    imported = [c for c in ordered
                if c.change_type == CREATED and c.project.attributes["project_name"].startswith("imp")]
    assert len(imported) == 7
    delivered = [(c.change_type, c.project.name, c.project.etag) for c in ordered if c not in imported]
    assert sorted(delivered) == sorted(acknowledged), "every acknowledged change exactly once, nothing else"
    # Each project's changes come in the order they were acknowledged.
    for name in {a[1] for a in acknowledged}:
        assert [d for d in delivered if d[1] == name] == [a for a in acknowledged if a[1] == name]
    rebuilt = dict(listed)
    apply(rebuilt, late.changes)
    same_state(rebuilt, final)
    from_nothing: dict[str, pb.Project] = {}
    apply(from_nothing, changes_after(stubs, "")[0])  # the whole retained log, from the oldest change
    same_state(from_nothing, final)


def test_watch_sends_progress_with_the_latest_position_when_idle(stubs: Stubs, watchers: list[Watcher]) -> None:
    stubs.projects.CreateProject(create_request())
    _, position = list_all(stubs)
    watcher = Watcher(stubs, progress_interval=duration_pb2.Duration(seconds=1))
    watchers.append(watcher)
    first = watcher.next()
    assert first.position == position and not first.changes
    began = time.monotonic()
    progress = watcher.next(timeout=10)  # nothing changes: a progress message after about a second
    assert not progress.changes and progress.position == position
    assert time.monotonic() - began >= 0.9
    made = stubs.projects.CreateProject(create_request())
    watcher.until(lambda w: any(c.project.name == made.name for c in w.changes))
    assert watcher.changes[-1].position == watcher.position


def test_positions_and_read_times_that_are_not_usable_get_clear_errors(stubs: Stubs) -> None:
    bad = call_error(stubs.projects.ListProjectChanges, pb.ListProjectChangesRequest(start_position="nonsense"))
    assert bad.code == grpc.StatusCode.INVALID_ARGUMENT and bad.violations == {"start_position": "INVALID_POSITION"}
    own = list_all(stubs)[1]
    log_id = base64.urlsafe_b64decode(own[3:] + "=" * (-len(own[3:]) % 4)).decode().split(":")[0]
    ahead = "c1." + base64.urlsafe_b64encode(f"{log_id}:999999".encode()).decode().rstrip("=")
    beyond = call_error(stubs.projects.ListProjectChanges, pb.ListProjectChangesRequest(start_position=ahead))
    assert beyond.code == grpc.StatusCode.INVALID_ARGUMENT and beyond.violations == {
        "start_position": "INVALID_POSITION"}
    foreign = "c1." + base64.urlsafe_b64encode(b"0123456789abcdef:5").decode().rstrip("=")
    expired = call_error(stubs.projects.ListProjectChanges, pb.ListProjectChangesRequest(start_position=foreign))
    assert expired.code == grpc.StatusCode.FAILED_PRECONDITION
    assert expired.error_info.reason == "CHANGE_POSITION_EXPIRED"
    future = call_error(stubs.projects.GetProject, pb.GetProjectRequest(
        name=f"projects/{uuid.uuid4()}", read_time=timestamp(now() + timedelta(hours=1))))
    assert future.code == grpc.StatusCode.INVALID_ARGUMENT and future.error_info.reason == "READ_TIME_IN_FUTURE"
    old = call_error(stubs.projects.ListProjects, pb.ListProjectsRequest(
        read_time=timestamp(datetime(2001, 1, 1))))
    assert old.code == grpc.StatusCode.FAILED_PRECONDITION and old.error_info.reason == "READ_TIME_EXPIRED"
    oldest = old.error_info.metadata["oldest_read_time"]
    assert oldest in old.message
    negative = call_error(stubs.projects.ListProjectChanges, pb.ListProjectChangesRequest(page_size=-1))
    assert negative.code == grpc.StatusCode.INVALID_ARGUMENT


# -- point-in-time reads ----------------------------------------------------------------------------
def test_reads_at_five_moments_of_a_projects_life_return_its_state_then(stubs: Stubs) -> None:
    def moment() -> datetime:
        time.sleep(0.002)  # the server's microsecond clock moves past the acknowledged commit
        return now()

    before = moment()
    created = stubs.projects.CreateProject(create_request(project_name="life", maturity_years=10))
    after_create = moment()
    first = update(stubs, created, maturity_years=11)
    after_first = moment()
    second = update(stubs, first, maturity_years=12)
    after_second = moment()
    stubs.projects.DeleteProject(pb.DeleteProjectRequest(name=created.name))
    after_delete = moment()
    other = stubs.projects.CreateProject(create_request(project_name="bystander"))

    expected = [(before, None), (after_create, created), (after_first, first), (after_second, second),
                (after_delete, None)]
    for when, state in expected:
        read_time = timestamp(when)
        if state is None:
            missing = call_error(stubs.projects.GetProject, pb.GetProjectRequest(name=created.name,
                                                                                 read_time=read_time))
            assert missing.code == grpc.StatusCode.NOT_FOUND
        else:
            assert stubs.projects.GetProject(pb.GetProjectRequest(name=created.name, read_time=read_time)) == state
        listed = stubs.projects.ListProjects(pb.ListProjectsRequest(filter='project_name = "life"',
                                                                    read_time=read_time))
        assert list(listed.projects) == ([] if state is None else [state])
        assert listed.read_position
        summary = stubs.projects.SummarizeProjects(pb.SummarizeProjectsRequest(
            filter='project_name = "life"', read_time=read_time,
            aggregations=[pb.Aggregation(function=pb.AGGREGATE_FUNCTION_MAX, field="maturity_years"),
                          pb.Aggregation(function=pb.AGGREGATE_FUNCTION_COUNT)]))
        values = [v for v in summary.rows[0].values]
        assert values[1].number_value == (0 if state is None else 1)
        if state is not None:
            assert values[0].number_value == state.attributes["maturity_years"]
        exported = b"".join(r.data for r in stubs.projects.ExportProjects(pb.ExportProjectsRequest(
            format=pb.EXPORT_FORMAT_JSONL, filter='project_name = "life"', read_time=read_time)))
        assert exported.count(b"\n") == (0 if state is None else 1)
        if state is not None:
            assert f'"maturity_years":{state.attributes["maturity_years"]:.0f}'.encode() in exported
        # The bystander, created after all of it, is in none of these moments.
        gone = call_error(stubs.projects.GetProject, pb.GetProjectRequest(name=other.name, read_time=read_time))
        assert gone.code == grpc.StatusCode.NOT_FOUND
    # And now, without read_time: the present.
    assert stubs.projects.GetProject(pb.GetProjectRequest(name=other.name)) == other


def test_export_tells_its_snapshot_position(stubs: Stubs) -> None:
    stubs.projects.CreateProject(create_request())
    _, position = list_all(stubs)
    responses = list(stubs.projects.ExportProjects(pb.ExportProjectsRequest(format=pb.EXPORT_FORMAT_CSV)))
    assert responses[0].read_position == position
    assert all(not r.read_position for r in responses[1:])
    for export_format in (pb.EXPORT_FORMAT_JSONL, pb.EXPORT_FORMAT_CSV, pb.EXPORT_FORMAT_ARROW_IPC):
        nothing = list(stubs.projects.ExportProjects(pb.ExportProjectsRequest(
            format=export_format, filter='project_name = "no such project"')))
        assert nothing and nothing[0].read_position == position, export_format  # even when no row matched


# -- limits and retention ---------------------------------------------------------------------------
def test_watchers_above_the_cap_get_resource_exhausted_with_quota_failure(tmp_path: Path) -> None:
    with in_process_server(tmp_path / "cap.duckdb", MAX_WATCHERS="2") as (_, stubs):
        open_ = [Watcher(stubs) for _ in range(2)]
        try:
            for watcher in open_:
                watcher.next()
            refused = call_error(lambda: next(iter(stubs.projects.WatchProjects(pb.WatchProjectsRequest()))))
            assert refused.code == grpc.StatusCode.RESOURCE_EXHAUSTED
            assert refused.quota is not None and refused.quota.violations[0].subject == "MAX_WATCHERS"
        finally:
            for watcher in open_:
                watcher.close()
        again = Watcher(stubs)  # a slot is free again once a watcher left
        try:
            wait_until(lambda: again.next(timeout=5) is not None, 10, "a watcher after others left")
        finally:
            again.close()


def test_an_expired_position_says_list_again_and_list_then_watch_at_the_boundary_has_no_gap(
        tmp_path: Path) -> None:
    with in_process_server(tmp_path / "retention.duckdb", CHANGE_RETENTION_COUNT="3",
                           CHANGE_COMPACTION_INTERVAL="0.1") as (server, stubs):
        _, start = list_all(stubs)
        made = [stubs.projects.CreateProject(create_request(project_name=f"r{i}")) for i in range(6)]

        def expired() -> bool:
            try:
                changes_after(stubs, start)
            except grpc.RpcError as error:
                return error.code() == grpc.StatusCode.FAILED_PRECONDITION
            return False

        wait_until(expired, 30, "the retention pass to compact the first changes")

        def retained() -> list[pb.ProjectChange] | None:
            error = call_error(stubs.projects.ListProjectChanges, pb.ListProjectChangesRequest(start_position=start))
            assert error.error_info.reason == "CHANGE_POSITION_EXPIRED"
            assert "list again" in error.message
            try:
                kept, _ = changes_after(stubs, error.error_info.metadata["oldest_position"])
            except grpc.RpcError as moved:  # a pass moved the window again meanwhile: look once more
                assert moved.code() == grpc.StatusCode.FAILED_PRECONDITION
                return None
            assert [c.project.name for c in kept] == [p.name for p in made[-len(kept):]]
            return kept if len(kept) == 3 else None  # a pass that ran mid-way kept more: the next one catches up

        wait_until(retained, 30, "the window to hold the last 3 changes")
        watch = call_error(lambda: [r for r in stubs.projects.WatchProjects(
            pb.WatchProjectsRequest(start_position=start))])
        assert watch.error_info.reason == "CHANGE_POSITION_EXPIRED"
        # List again, watch from its position: nothing missed, while the window keeps moving.
        listed, position = list_all(stubs)
        assert set(listed) == {p.name for p in made}
        watcher = Watcher(stubs, start_position=position)
        try:
            watcher.next()
            later = [stubs.projects.CreateProject(create_request(project_name=f"s{i}")) for i in range(2)]
            watcher.until(lambda w: len(w.changes) >= 2)
            assert [c.project for c in watcher.changes] == later
        finally:
            watcher.close()
        assert server.app.storage is not None and server.app.storage.retention is not None
