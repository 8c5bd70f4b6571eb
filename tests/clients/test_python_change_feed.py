"""The Python client's change feed (issue 19) against live servers.

`Client.watch` delivers every create, update and delete once and in order,
also across a graceful restart and a kill -9 of the server (it calls again
from its last position); `list_changes` pages; `read_time` reads the past;
the feed's errors arrive as the client's typed exceptions.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import grpc
import pyarrow.parquet as pq
import pytest
from duckdb_spawn_client import (
    ChangeStream,
    Client,
    DuckdbSpawnError,
    FailedPreconditionError,
    InvalidArgumentError,
    ProjectChange,
    ResourceExhaustedError,
    RetryPolicy,
    WatchProgress,
)

from tests.support.auth import generated_admin_token
from tests.support.servers import (
    InProcessServer,
    ServerProcess,
    Stubs,
    base_env,
    free_port,
    in_process_server,
    wait_until,
)


def attributes(i: int, **overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {"project_name": f"Feed {i}", "total_amount": Decimal(f"{100 + i}.50"),
                              "maturity_years": 1 + i % 30, "expected_tri": Decimal("6.50"), "dscr": Decimal("1.30")}
    values.update(overrides)
    return values


def take(stream: ChangeStream, count: int, timeout: float = 20) -> list[ProjectChange]:
    """The next `count` changes. The stream was opened with progress, so it yields at least every second
    and the deadline is checked that often."""
    deadline = time.monotonic() + timeout
    taken: list[ProjectChange] = []
    for event in stream:
        if isinstance(event, ProjectChange):
            taken.append(event)
            if len(taken) == count:
                return taken
        if time.monotonic() > deadline:
            break
    raise AssertionError(f"got {len(taken)} of {count} changes within {timeout}s")


@pytest.fixture
def client(server: tuple[InProcessServer, Stubs]) -> Iterator[Client]:
    with Client(server[0].target, token=server[0].admin_token) as connected:
        yield connected


def test_watch_delivers_creates_updates_and_deletes_in_order(client: Client) -> None:
    before = client.create_project(attributes(0))
    page = client.list_projects()
    assert page.read_position and [p.name for p in page.projects] == [before.name]
    with client.watch(start_position=page.read_position, progress=True, progress_interval=1) as stream:
        assert stream.position == page.read_position  # connected at once, from the listing's snapshot
        created = client.create_project(attributes(1))
        batch = client.batch_create_projects([attributes(2), attributes(3)])
        updated = client.update_project(created.name, {"status": "ACTIVE"}, update_mask=["status"])
        client.delete_project(batch[0].name)

        changes = take(stream, 5)
    assert [(c.change_type, c.project.name) for c in changes] == [
        ("created", created.name), ("created", batch[0].name), ("created", batch[1].name),
        ("updated", created.name), ("deleted", batch[0].name)]
    assert changes[0].project == created and changes[3].project == updated  # the project after the change
    assert changes[3].project.attributes["status"] == "ACTIVE"
    assert isinstance(changes[3].project.attributes["total_amount"], Decimal)
    deleted = changes[4].project
    assert (deleted.etag, deleted.attributes, deleted.create_time) == (batch[0].etag, {}, None)
    assert all(c.commit_time is not None and c.commit_time.tzinfo == UTC for c in changes)
    assert [c.commit_time for c in changes] == sorted(c.commit_time for c in changes)  # type: ignore[type-var]
    assert len({c.position for c in changes}) == 5
    assert stream.position == changes[-1].position
    assert stream.closed
    # The same changes, listed after the same position.
    assert list(client.iter_changes(start_position=page.read_position)) == changes


def test_watch_from_now_sees_only_later_changes_and_reports_progress(client: Client) -> None:
    client.create_project(attributes(0))
    with client.watch(progress=True, progress_interval=1) as stream:
        start = stream.position
        first = next(stream)
        assert first == WatchProgress(start)  # the server's first answer: where the stream starts
        later = client.create_project(attributes(1))
        assert [c.project.name for c in take(stream, 1)] == [later.name]
        # Nothing more changes: a progress message within the interval (and the position stays).
        deadline = time.monotonic() + 10
        event = next(stream)
        assert isinstance(event, WatchProgress) and time.monotonic() < deadline
        assert event.position == stream.position


def test_watch_ends_when_closed_from_another_thread(client: Client) -> None:
    stream = client.watch(progress=True)  # its first event at once, then nothing: the consumer waits in the call
    events: list[Any] = []

    def consume() -> None:
        events.extend(stream)  # appended only at the end; `stream.position` shows the wait has begun

    consumer = threading.Thread(target=consume, daemon=True)
    consumer.start()
    wait_until(lambda: not consumer.is_alive() or stream.position, 5, "the consumer to start")
    stream.close()
    consumer.join(5)
    assert not consumer.is_alive() and len(events) <= 1 and stream.closed


def test_list_changes_pages_and_resumes(client: Client) -> None:
    start = client.list_projects().read_position
    made = client.batch_create_projects([attributes(i) for i in range(23)])
    client.update_project(made[0].name, {"status": "ACTIVE"}, update_mask=["status"])

    pages = list(client.iter_change_pages(start_position=start, page_size=10))
    assert [len(p.changes) for p in pages] == [10, 10, 4]
    assert [bool(p.next_page_token) for p in pages] == [True, True, False]
    changes = [c for p in pages for c in p.changes]
    assert [c.project.name for c in changes] == [p.name for p in made] + [made[0].name]
    assert [c.change_type for c in changes[-2:]] == ["created", "updated"]
    assert pages[-1].position == changes[-1].position

    # One page at a time, and from the middle: what follows, once.
    first = client.list_changes(start_position=start, page_size=10)
    second = client.list_changes(page_token=first.next_page_token, page_size=10)
    assert second.changes == changes[10:20]
    assert client.list_changes(start_position=changes[19].position).changes == changes[20:]
    # Up to date: an empty page that stays at the same position.
    tail = client.list_changes(start_position=pages[-1].position)
    assert (tail.changes, tail.next_page_token, tail.position) == ([], "", pages[-1].position)
    # From a time: the changes committed after it (the batch's 23 creates committed at one time).
    assert len({c.commit_time for c in changes[:23]}) == 1
    assert list(client.iter_changes(start_time=changes[0].commit_time)) == changes[23:]

    with pytest.raises(InvalidArgumentError) as bad:
        client.list_changes(start_position="not-a-position")
    assert bad.value.reason == "INVALID_POSITION"


def test_read_time_reads_the_past(client: Client, tmp_path: Path) -> None:
    project = client.create_project(attributes(1, status="PROPOSED"))
    client.create_project(attributes(2))
    then = datetime.now(UTC)
    wait_until(lambda: datetime.now(UTC) > then, 5, "the clock to move on")
    client.update_project(project.name, {"status": "ACTIVE", "total_amount": Decimal("999.99")},
                          update_mask=["status", "total_amount"])
    client.delete_project(project.name)

    old = client.get_project(project.name, read_time=then)
    assert (old.attributes["status"], old.attributes["total_amount"], old.etag) == (
        "PROPOSED", Decimal("101.50"), project.etag)
    past = client.list_projects(read_time=then)
    assert past.total_size == 2 and project.name in {p.name for p in past.projects}
    assert client.list_projects().total_size == 1
    assert [p.name for p in client.iter_projects(read_time=then, page_size=1)] == [p.name for p in past.projects]
    summary = client.summarize_projects(aggregations=["count", "sum:total_amount"], read_time=then)
    assert summary.rows == [{"count": 2, "sum_total_amount": Decimal("204.00")}]

    exported = client.export_to_file(tmp_path / "then.parquet", read_time=then)
    assert exported.row_count == 2 and exported.read_position
    assert sorted(pq.read_table(tmp_path / "then.parquet").column("status").to_pylist()) == ["PROPOSED", "PROPOSED"]
    # The export's read position is its snapshot's: what changed after it is the update and the delete.
    assert [c.change_type for c in client.iter_changes(start_position=exported.read_position)] == [
        "updated", "deleted"]
    now = client.export_projects(format="jsonl")
    assert now.read_position == ""  # set by the first chunk, not before
    assert sum(rows for _, rows in now) == 1 and now.read_position == client.list_projects().read_position

    with pytest.raises(InvalidArgumentError) as future:
        client.get_project(project.name, read_time=datetime.now(UTC) + timedelta(hours=1))
    assert future.value.reason == "READ_TIME_IN_FUTURE"
    with pytest.raises(FailedPreconditionError) as expired:
        client.list_projects(read_time=datetime(2000, 1, 1))  # naive: UTC
    assert expired.value.reason == "READ_TIME_EXPIRED" and "oldest_read_time" in expired.value.metadata


def test_expired_positions_and_the_watcher_cap_raise_typed_errors(tmp_path: Path) -> None:
    env = {"CHANGE_RETENTION_COUNT": "5", "CHANGE_COMPACTION_INTERVAL": "0.05", "MAX_WATCHERS": "1"}
    with in_process_server(tmp_path / "data" / "feed.duckdb", **env) as (server, _), \
            Client(server.target, token=server.admin_token) as client:
        start = client.list_projects().read_position
        client.batch_create_projects([attributes(i) for i in range(20)])

        def expired() -> DuckdbSpawnError | None:
            try:
                client.list_changes(start_position=start)
            except FailedPreconditionError as error:
                return error
            return None

        error = wait_until(expired, 10, "the compaction to drop the oldest changes")
        assert error.reason == "CHANGE_POSITION_EXPIRED" and error.metadata["oldest_position"]
        with pytest.raises(FailedPreconditionError) as watched:
            client.watch(start_position=start)  # raised at once: the stream connects before returning
        assert watched.value.reason == "CHANGE_POSITION_EXPIRED"
        # The remedy: list again, and watch from that listing's position.
        with client.watch(start_position=client.list_projects().read_position) as only:
            with pytest.raises(ResourceExhaustedError) as refused:  # MAX_WATCHERS=1, not retried
                client.watch()
            assert refused.value.details.quota_violations
            assert not only.closed

        def admitted() -> bool:
            try:
                client.watch().close()
            except ResourceExhaustedError:
                return False
            return True

        wait_until(admitted, 10, "the closed watch to free its place")


def test_watch_resumes_across_a_restart_and_a_kill_without_gap_or_duplicate(tmp_path: Path) -> None:
    port = free_port()
    database = tmp_path / "data" / "watched.duckdb"
    env = base_env(database, GRPC_PORT=str(port), METRICS_ENABLED="false", SHUTDOWN_DRAIN_SECONDS="0",
                   SHUTDOWN_GRACE_SECONDS="5")
    processes = [ServerProcess(env)]
    retries: list[grpc.StatusCode] = []
    received: list[ProjectChange] = []
    failure: list[BaseException] = []
    try:
        processes[0].wait_serving()
        client = Client(f"127.0.0.1:{port}", token=generated_admin_token(database), timeout=60,
                        retry=RetryPolicy(max_attempts=10_000, initial_backoff=0.05, max_backoff=0.5),
                        on_retry=lambda attempt, error, wait: retries.append(error.code))
        start = client.list_projects().read_position
        stream = client.watch(start_position=start, progress_interval=1)

        def consume() -> None:
            try:
                received.extend(stream)
            except BaseException as error:  # noqa: BLE001 - reported by the assertions below
                failure.append(error)

        consumer = threading.Thread(target=consume, daemon=True)
        consumer.start()
        acknowledged: list[str] = []

        def write_and_wait(round_: int) -> None:
            made = client.batch_create_projects([attributes(10 * round_ + i) for i in range(5)])
            client.update_project(made[0].name, {"status": "ACTIVE"}, update_mask=["status"])
            client.delete_project(made[1].name)
            acknowledged.extend(p.name for p in made)
            wait_until(lambda: len(received) == 7 * (round_ + 1) or failure, 30,
                       f"the watcher to receive round {round_}")

        write_and_wait(0)
        processes[0].signal(signal.SIGTERM)  # a drain: the stream ends UNAVAILABLE with RetryInfo
        assert processes[0].wait_exit(30) == 0
        processes.append(ServerProcess(env))  # same port, same file
        processes[-1].wait_serving()
        write_and_wait(1)
        processes[-1].kill9()  # a crash: the connection just goes
        processes.append(ServerProcess(env))
        processes[-1].wait_serving()
        write_and_wait(2)

        stream.close()
        consumer.join(10)
        assert not consumer.is_alive() and not failure, failure
        assert stream.reconnects >= 2 and set(retries) == {grpc.StatusCode.UNAVAILABLE}
        # Exactly the feed as listed afterwards: nothing missed, nothing twice, in order.
        listed = list(client.iter_changes(start_position=start))
        assert [c.position for c in received] == [c.position for c in listed]
        assert len({c.position for c in received}) == 21
        assert [c.project.name for c in received if c.change_type == "created"] == acknowledged
        assert stream.position == received[-1].position
        client.close()
    finally:
        for process in processes:
            process.close()


def test_watch_gives_up_after_its_timeout_when_the_server_stays_away(tmp_path: Path) -> None:
    port = free_port()
    database = tmp_path / "data" / "gone.duckdb"
    process = ServerProcess(base_env(database, GRPC_PORT=str(port), METRICS_ENABLED="false"))
    try:
        process.wait_serving()
        client = Client(f"127.0.0.1:{port}", token=generated_admin_token(database), timeout=1.5,
                        retry=RetryPolicy(max_attempts=10_000, initial_backoff=0.05, max_backoff=0.2))
        stream = client.watch(progress_interval=1)
        process.kill9()
        began = time.monotonic()
        with pytest.raises(DuckdbSpawnError) as gave_up:
            list(stream)
        assert gave_up.value.code == grpc.StatusCode.UNAVAILABLE
        assert 1.0 < time.monotonic() - began < 10
        client.close()
    finally:
        process.close()

