"""Shared fixtures: a real in-process gRPC server on loopback over a temp DuckDB file."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.servers import InProcessServer, Stubs, in_process_server


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[InProcessServer, Stubs]]:
    with in_process_server(tmp_path / "data" / "test.duckdb") as pair:
        yield pair


@pytest.fixture
def stubs(server: tuple[InProcessServer, Stubs]) -> Stubs:
    return server[1]
