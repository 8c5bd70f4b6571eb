"""Fixtures: a real development ontology server on loopback, and a service that uses it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.ontology import Ontology, project_document, running_ontology
from tests.support.servers import InProcessServer, Stubs, in_process_server

TTL = "0.3"


@pytest.fixture
def ontology(tmp_path: Path) -> Iterator[Ontology]:
    with running_ontology(tmp_path / "ontology", project_document("v1")) as server:
        yield server


@pytest.fixture
def served(tmp_path: Path, ontology: Ontology) -> Iterator[tuple[InProcessServer, Stubs]]:
    """The service with the mock disabled, reading schemas from `ontology` with a short TTL."""
    with in_process_server(tmp_path / "data" / "db.duckdb", USE_MOCK_ONTO_SERVER="false",
                           ONTO_SERVER_URL=ontology.url, ONTO_CACHE_TTL=TTL, ONTO_SERVER_TIMEOUT="2") as pair:
        yield pair

