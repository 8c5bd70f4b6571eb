"""Claims left pending by a replica that died are settled by looking in the lake (storage/coordination.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest
from duckdb_spawn_server.storage.coordination import LakeCoordinator

from tests.support.postgres import PostgresServer

TABLE = "projects"


@pytest.fixture
def in_lake() -> Iterator[set[str]]:
    yield set()  # the ids "in the lake", as the repair looks them up


def coordinator(postgres: PostgresServer, in_lake: set[str], schema: str) -> LakeCoordinator:
    return LakeCoordinator(postgres.conninfo(), schema, lambda _table, _column, key: key in in_lake, stale_after=0)


def rows(*ids: str) -> pa.Table:
    return pa.table({"project_id": list(ids)})


def test_a_crash_between_the_lake_commit_and_the_marking_leaves_a_duplicate(
        postgres: PostgresServer, in_lake: set[str], tmp_path: Path) -> None:
    dead = coordinator(postgres, in_lake, "claims_a")
    dead.claim(duckdb.connect(), TABLE, "project_id", rows("id-1", "id-2"))
    in_lake.add("id-1")  # its lake insert committed; then the process died before marking the claims
    survivor = coordinator(postgres, in_lake, "claims_a")
    with pytest.raises(duckdb.ConstraintException, match="id-1"):
        survivor.claim(duckdb.connect(), TABLE, "project_id", rows("id-1"))
    survivor.claim(duckdb.connect(), TABLE, "project_id", rows("id-2"))  # never committed: taken over
    survivor.committed()
    with pytest.raises(duckdb.ConstraintException, match="id-2"):
        coordinator(postgres, in_lake, "claims_a").claim(duckdb.connect(), TABLE, "project_id", rows("id-2"))


def test_the_repair_pass_settles_stale_claims(postgres: PostgresServer, in_lake: set[str]) -> None:
    dead = coordinator(postgres, in_lake, "claims_b")
    dead.claim(duckdb.connect(), TABLE, "project_id", rows("kept", "lost"))
    in_lake.add("kept")
    assert coordinator(postgres, in_lake, "claims_b").repair_stale() == 2
    fresh = coordinator(postgres, in_lake, "claims_b")
    fresh.claim(duckdb.connect(), TABLE, "project_id", rows("lost"))  # free again: the lake never had it
    with pytest.raises(duckdb.ConstraintException, match="kept"):
        fresh.claim(duckdb.connect(), TABLE, "project_id", rows("kept"))


def test_a_rolled_back_insert_frees_its_ids(postgres: PostgresServer, in_lake: set[str]) -> None:
    one = LakeCoordinator(postgres.conninfo(), "claims_c", lambda *_: False)  # nothing is ever stale here
    one.claim(duckdb.connect(), TABLE, "project_id", rows("x"))
    one.rolled_back()
    other = LakeCoordinator(postgres.conninfo(), "claims_c", lambda *_: False)
    other.claim(duckdb.connect(), TABLE, "project_id", rows("x"))
    other.committed()
    with pytest.raises(duckdb.ConstraintException):
        one.claim(duckdb.connect(), TABLE, "project_id", rows("x"))
