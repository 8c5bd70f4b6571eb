"""Tests on the lake: a real PostgreSQL catalog (started once for the session) and data directories.

While a module here runs, every server a test starts (tests/support/servers.py
`base_env`) gets a lake of its own (per DUCKDB_PATH): its own catalog schema in
the one cluster and a data directory beside its DUCKDB_PATH. The modules that import the API's
tests so run them, unchanged, with STORAGE_BACKEND=ducklake.
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import servers
from tests.support.postgres import PostgresServer, postgres_or_skip, postgres_server

_lakes = itertools.count(1)


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    postgres_or_skip()
    with postgres_server() as server:
        yield server


def lake_env(postgres: PostgresServer, data_dir: Path, schema: str) -> dict[str, str]:
    return {"STORAGE_BACKEND": "ducklake", "LAKE_CATALOG": postgres.conninfo(),
            "LAKE_DATA_PATH": str(data_dir), "LAKE_METADATA_SCHEMA": schema}


@pytest.fixture(scope="module", autouse=True)
def servers_on_a_lake(postgres: PostgresServer) -> Iterator[None]:
    # The same DUCKDB_PATH, the same lake: a test that restarts its server finds its data again.
    servers.backend_env = lambda db_path: lake_env(
        postgres, db_path.parent / "lake-data", "lake_" + hashlib.sha1(str(db_path).encode()).hexdigest()[:16])
    try:
        yield
    finally:
        servers.backend_env = None


@pytest.fixture
def lake(postgres: PostgresServer, tmp_path: Path) -> dict[str, str]:
    """The environment of one fresh lake, for replicas that share it."""
    return lake_env(postgres, tmp_path / "shared-lake-data", f"lake_{next(_lakes)}")


# Tests of the file's type changes: DuckLake changes a column's type by promotion (INTEGER to
# BIGINT, ...) and otherwise only while the rows are inlined, so on a lake a narrowing or an
# incompatible change may be refused, cleanly (test_replicas.py::test_a_type_change_the_lake_...).
FILE_ONLY = (
    "test_destructive_changes_are_never_automatic_and_show_as_pending",
    "test_a_forced_narrowing_that_rows_violate_is_refused_naming_them",
    "test_each_step_kind_is_planned_dry_run_and_applied_or_refused[narrow]",
    "test_each_step_kind_is_planned_dry_run_and_applied_or_refused[incompatible change]",
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    lake_dir = Path(__file__).parent
    deselected = [item for item in items if item.name in FILE_ONLY and Path(str(item.fspath)).parent == lake_dir]
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = [item for item in items if item not in deselected]
