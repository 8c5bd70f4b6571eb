"""Fixtures: a service whose schemas come from a real ontology server, with projects in its table."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from duckdb_spawn.v1 import admin_service_pb2 as admin_pb
from duckdb_spawn.v1 import project_service_pb2 as pb

from tests.support.ontology import Ontology, project_document, running_ontology
from tests.support.rpc import create_request
from tests.support.servers import InProcessServer, Stubs, in_process_server

# The table starts with a bounded text column, and two extra columns to drop and to change.
V1_CHANGES: dict[str, Any] = {"description": {"type": "VARCHAR(100)"}}
V1_EXTRA = [{"name": "legacy_code", "type": "VARCHAR"}, {"name": "internal_rating", "type": "VARCHAR"}]


def document(version: str, *, extra: list[dict[str, Any]] | None = None, drop: tuple[str, ...] = (),
             **changes: dict[str, Any]) -> dict[str, Any]:
    """v1 of the test ontology, then changed."""
    merged = {name: {**V1_CHANGES.get(name, {}), **change} for name, change in {**V1_CHANGES, **changes}.items()}
    return project_document(version, extra_columns=[c for c in V1_EXTRA if c["name"] not in drop] + (extra or []),
                            drop=drop, **merged)


@dataclass
class Migrating:
    server: InProcessServer
    stubs: Stubs
    ontology: Ontology
    projects: list[pb.Project]

    def publish(self, doc: dict[str, Any]) -> admin_pb.SchemaRefreshResult:
        """Puts a new schema on the ontology server and refreshes now."""
        self.ontology.write(doc)
        return self.stubs.admin.RefreshSchemas(admin_pb.RefreshSchemasRequest(), timeout=30).results[0]

    def table(self) -> admin_pb.Table:
        return self.stubs.admin.GetTable(admin_pb.GetTableRequest(name="tables/projects"), timeout=10)

    def update(self, **fields: Any) -> admin_pb.UpdateTableResponse:
        return self.stubs.admin.UpdateTable(admin_pb.UpdateTableRequest(name="tables/projects", **fields),
                                            timeout=30)

    def all_projects(self) -> list[pb.Project]:
        return list(self.stubs.projects.ListProjects(pb.ListProjectsRequest(page_size=1000), timeout=10).projects)

    def metric(self, name: str, **labels: str) -> float:
        return self.server.app.metrics.registry.get_sample_value(name, labels) or 0.0


@contextmanager
def start_migrating(tmp_path: Path, ontology: Ontology, **env: str) -> Iterator[Migrating]:
    settings = {"USE_MOCK_ONTO_SERVER": "false", "ONTO_SERVER_URL": ontology.url, "ONTO_CACHE_TTL": "3600",
                "AUTO_MIGRATE": "off", **env}
    with in_process_server(tmp_path / "data" / "db.duckdb", **settings) as (server, stubs):
        projects = [
            stubs.projects.CreateProject(create_request(
                project_name=f"p{i}", total_amount=amount, internal_rating=rating, legacy_code=f"L-{i}"))
            for i, (amount, rating) in enumerate([("1250000.50", "5"), ("99.99", "7"), ("42.00", "12")])]
        yield Migrating(server, stubs, ontology, projects)


@pytest.fixture
def migrating(tmp_path: Path) -> Iterator[Migrating]:
    """AUTO_MIGRATE=off and a long TTL: schemas change only on RefreshSchemas, tables only on UpdateTable."""
    with running_ontology(tmp_path / "ontology", document("v1")) as ontology, \
            start_migrating(tmp_path, ontology) as migrating:
        yield migrating
