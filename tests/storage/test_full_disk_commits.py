"""Every DuckDB write path reports a commit that a full disk refused: nothing is acknowledged that is not durable.

DuckDB 1.5's relation API in autocommit (`from_arrow(...).insert_into`)
reports success when its commit's WAL write fails with ENOSPC, and the rows
are gone after a restart. The writer therefore commits every group as an
explicit transaction. Each test here runs one write path on a real, full
tmpfs with no free-space reserve (the guard is tested through the API in
tests/lifecycle/test_disk_full.py), repeating the write until the disk
refuses it (a small write can fit in the WAL's last, partly used page),
then frees the space, reopens the file and checks: every acknowledged write
is there, the refused one left nothing, and the path works again.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from duckdb_spawn_server.domain.errors import Unavailable
from duckdb_spawn_server.domain.imports import ImportMode, StructRows
from duckdb_spawn_server.domain.request_ids import RequestKey
from duckdb_spawn_server.ontology.seed_format import parse_seed_schema
from duckdb_spawn_server.storage.database import DATABASE_INVALIDATED
from duckdb_spawn_server.storage.disk_guard import LOW_DISK_SPACE
from duckdb_spawn_server.storage.sql import table_exists

from tests.support.stack import Stack
from tests.support.tmpfs import fill, tmpfs

SCHEMA_ID = "thing_schema"
DOCUMENT = {"name": "things", "columns": [{"name": "id", "type": "UUID", "required": True},
                                          {"name": "label", "type": "VARCHAR"}, {"name": "body", "type": "VARCHAR"}]}
BIG = "b" * 60_000  # larger than any slack left in the WAL's last page
ATTEMPTS = 5_000  # far more than any slack can absorb; the disk must refuse one of them
ROOM = 1 << 20  # left free before a path's writes: some commit, then the disk refuses


@pytest.fixture
def volume(tmp_path: Path) -> Iterator[Path]:
    with tmpfs(tmp_path / "volume", 8) as directory:
        yield directory


def open_stack(volume: Path) -> Stack:
    return Stack(volume / "things.duckdb", SCHEMA_ID, DOCUMENT)


def until_refused(attempt: Callable[[int], Any]) -> tuple[list[Any], Unavailable]:
    """Runs attempt(0), attempt(1), ... on the full disk; returns what was acknowledged and the refusal."""
    acknowledged = []
    for index in range(ATTEMPTS):
        try:
            acknowledged.append(attempt(index))
        except Unavailable as refusal:
            assert refusal.reason in (LOW_DISK_SPACE, DATABASE_INVALIDATED), refusal.reason
            if not acknowledged:
                raise AssertionError("the first write was refused: the test proves nothing") from refusal
            return acknowledged, refusal
    raise AssertionError(f"{ATTEMPTS} writes on a full disk were all acknowledged")


def freed_and_reopened(stack: Stack, volume: Path) -> Stack:
    (volume / "filler").unlink()
    stack.close()
    return open_stack(volume)


def rows(stack: Stack) -> dict[uuid.UUID, dict[str, Any]]:
    with stack.pool.connection() as con:
        found = con.execute('SELECT id, label, body FROM "things"').fetchall()
    return {row[0]: {"label": row[1], "body": row[2]} for row in found}


def test_single_creates(volume: Path) -> None:
    stack = open_stack(volume)
    fill(volume / "filler", ROOM)
    acknowledged, _ = until_refused(lambda i: stack.manager.create({"label": f"c{i}", "body": BIG}).project_id)
    stack = freed_and_reopened(stack, volume)
    try:
        stored = rows(stack)
        assert set(acknowledged) <= set(stored), "an acknowledged create is gone"
        assert len(stored) == len(acknowledged), "a refused create left a row"
        assert stack.manager.create({"label": "after", "body": BIG}).project_id in rows(stack)
    finally:
        stack.close()


def test_creates_merged_into_one_group(volume: Path) -> None:
    """Concurrent creates commit as one merged Arrow insert: the statement the autocommit trap swallowed."""
    stack = open_stack(volume)
    fill(volume / "filler", ROOM)
    acknowledged: list[uuid.UUID] = []
    refusals: list[Unavailable] = []
    lock = threading.Lock()

    def writer(worker: int) -> None:
        for index in range(ATTEMPTS // 8):
            try:
                created = stack.manager.create({"label": f"w{worker}-{index}", "body": BIG}).project_id
            except Unavailable as refusal:
                with lock:
                    refusals.append(refusal)
                return
            with lock:
                acknowledged.append(created)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert refusals, "the full disk never refused a create"
    assert all(r.reason in (LOW_DISK_SPACE, DATABASE_INVALIDATED) for r in refusals)
    groups = stack.writer.stats().groups_committed
    stack = freed_and_reopened(stack, volume)
    try:
        stored = rows(stack)
        assert set(acknowledged) <= set(stored), f"{len(set(acknowledged) - set(stored))} acknowledged creates are gone"
        assert len(stored) == len(acknowledged), "a refused create left a row"
        assert groups < len(acknowledged) + 3, "the creates were not merged into groups"
    finally:
        stack.close()


def test_batch_creates(volume: Path) -> None:
    stack = open_stack(volume)
    fill(volume / "filler", ROOM)
    acknowledged, _ = until_refused(lambda i: [r.project_id for r in stack.manager.batch_create(
        [({"label": f"b{i}-{k}", "body": BIG}, "") for k in range(3)])])
    stack = freed_and_reopened(stack, volume)
    try:
        stored = rows(stack)
        created = [pid for batch in acknowledged for pid in batch]
        assert set(created) <= set(stored) and len(stored) == len(created)
    finally:
        stack.close()


def test_creates_with_a_request_id(volume: Path) -> None:
    """The request log entry and the row commit together, or neither does."""
    stack = open_stack(volume)
    fill(volume / "filler", ROOM)
    keys = [RequestKey(str(uuid.uuid4()), "CreateProject", f"f{i}") for i in range(ATTEMPTS)]
    acknowledged, _ = until_refused(lambda i: stack.manager.create({"label": f"r{i}", "body": BIG},
                                                                   request=keys[i]).project_id)
    refused_key = keys[len(acknowledged)]
    stack = freed_and_reopened(stack, volume)
    try:
        stored = rows(stack)
        assert set(acknowledged) <= set(stored) and len(stored) == len(acknowledged)
        assert stack.store.find_request(keys[0].request_id, stack.manager.requests.cutoff()) is not None
        assert stack.store.find_request(refused_key.request_id, stack.manager.requests.cutoff()) is None
        # The refused request, retried with its id once there is room, is created exactly once.
        retried = stack.manager.create({"label": "retry", "body": BIG}, request=refused_key)
        again = stack.manager.create({"label": "retry", "body": BIG}, request=refused_key)
        assert retried.project_id == again.project_id and len(rows(stack)) == len(acknowledged) + 1
    finally:
        stack.close()


def test_updates(volume: Path) -> None:
    stack = open_stack(volume)
    ids = [stack.manager.create({"label": f"u{i}", "body": "old"}).project_id for i in range(2_000)]
    fill(volume / "filler", ROOM)
    acknowledged, _ = until_refused(lambda i: stack.manager.update(ids[i], {"body": BIG + str(i)}).project_id)
    refused = ids[len(acknowledged)]
    stack = freed_and_reopened(stack, volume)
    try:
        stored = rows(stack)
        assert all(stored[pid]["body"] == BIG + str(i) for i, pid in enumerate(acknowledged))
        assert stored[refused]["body"] == "old"
    finally:
        stack.close()


def test_deletes(volume: Path) -> None:
    stack = open_stack(volume)
    ids = [r.project_id for r in stack.manager.batch_create([({"label": f"d{i}"}, "") for i in range(1_000)])]
    ids += [r.project_id for r in stack.manager.batch_create([({"label": f"e{i}"}, "") for i in range(1_000)])]
    # A delete writes little (the WAL entry and its change-log row with the deleted image): some room for a
    # few dozen, then the disk refuses one.
    fill(volume / "filler", 32 << 10)

    def delete(index: int) -> uuid.UUID:
        stack.manager.delete(ids[index])
        return ids[index]

    acknowledged, _ = until_refused(delete)
    refused = ids[len(acknowledged)]
    stack = freed_and_reopened(stack, volume)
    try:
        stored = rows(stack)
        assert not set(acknowledged) & set(stored), "an acknowledged delete came back"
        assert refused in stored
        assert len(stored) == len(ids) - len(acknowledged)
    finally:
        stack.close()


def test_imports(volume: Path) -> None:
    """The spool shares the volume too: a full disk refuses while spooling or at the commit, never half-imports."""
    stack = open_stack(volume)
    fill(volume / "filler", ROOM)

    def load(index: int) -> int:
        chunk = StructRows.from_mappings([{"label": f"i{index}-{k}", "body": BIG} for k in range(4)])
        return stack.manager.import_rows([chunk], ImportMode.ATOMIC).imported

    acknowledged, _ = until_refused(load)
    stack = freed_and_reopened(stack, volume)
    try:
        assert len(rows(stack)) == sum(acknowledged)
        assert not list(volume.glob("duckdb-spawn-import-*")), "a spool file was left behind"
    finally:
        stack.close()


def test_table_ddl_and_the_catalog(volume: Path) -> None:
    """CREATE TABLE and DROP TABLE commit with their catalog rows, or not at all."""
    stack = open_stack(volume)

    def schema(index: int):  # type: ignore[no-untyped-def]
        return parse_seed_schema(f"s{index}", {**DOCUMENT, "name": f"t{index}"})

    for index in range(100):  # tables to drop later, made while there is room
        stack.tables.create(schema(100_000 + index))
    fill(volume / "filler", 16 << 10)  # DDL writes little: leave room for a few tables only
    created, _ = until_refused(lambda i: stack.tables.create(schema(i)).name)
    dropped, _ = until_refused(lambda i: stack.tables.drop(f"t{100_000 + i}") and f"t{100_000 + i}")
    stack = freed_and_reopened(stack, volume)
    try:
        with stack.pool.connection() as con:
            for table in created:
                assert table_exists(con, table) and stack.tables.state(table) is not None
            assert not table_exists(con, f"t{len(created)}")
            for table in dropped:
                assert not table_exists(con, table) and stack.tables.state(table) is None
            assert table_exists(con, f"t{100_000 + len(dropped)}")
    finally:
        stack.close()
