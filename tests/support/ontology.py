"""A real HTTP ontology server on loopback for tests: the repository's development server.

It serves `{schema_id}.json` files from a directory the test owns, so a
test changes the ontology by rewriting a file, slows it with `delay`, and
takes it down (and back up on the same port) with `stop` / `restart`.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from duckdb_spawn.v1 import admin_service_pb2 as admin_pb
from duckdb_spawn.v1 import monitoring_service_pb2 as monitoring_pb
from duckdb_spawn_server.ontology.dev_server import OntologyDevServer
from duckdb_spawn_server.ontology.mock import MOCK_PROJECT_SCHEMA

if TYPE_CHECKING:
    from tests.support.servers import Stubs

SCHEMA_PATH = "/schemas/project_schema"


def project_document(version: str = "v1", *, extra_columns: list[dict[str, Any]] | None = None,
                     drop: tuple[str, ...] = (), **column_changes: dict[str, Any]) -> dict[str, Any]:
    """The mock's seed document with a declared version, columns changed, dropped or added."""
    document = copy.deepcopy(MOCK_PROJECT_SCHEMA)
    document["version"] = version
    for column in document["columns"]:
        column.update(column_changes.get(column["name"], {}))
    document["columns"] = [c for c in document["columns"] if c["name"] not in drop] + (extra_columns or [])
    return document


def project_json_schema(version: str = "v1", **property_changes: dict[str, Any]) -> dict[str, Any]:
    """The mock's schema as a JSON Schema (2020-12) document, every column by its `x-duckdb-type`."""
    properties: dict[str, Any] = {}
    for column in MOCK_PROJECT_SCHEMA["columns"]:
        prop = {"x-duckdb-type": column["type"], "description": column["description"]}
        prop.update({key: column[key] for key in ("enum", "default", "pattern") if key in column})
        prop.update(property_changes.get(column["name"], {}))
        properties[column["name"]] = prop
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "x-duckdb-table": "projects",
            "x-duckdb-version": version, "type": "object", "additionalProperties": False,
            "required": [c["name"] for c in MOCK_PROJECT_SCHEMA["columns"] if c["required"]],
            "properties": properties}


def write_schema(directory: Path, document: Any, schema_id: str = "project_schema") -> None:
    text = document if isinstance(document, str) else json.dumps(document)
    (directory / f"{schema_id}.json").write_text(text)


class Ontology:
    """A started development ontology server over `directory`."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        self.server = OntologyDevServer(directory).start()
        self.port = self.server.port

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def write(self, document: Any, schema_id: str = "project_schema") -> None:
        write_schema(self.directory, document, schema_id)

    def count(self, status: int | None = None, path: str = SCHEMA_PATH) -> int:
        return self.server.count(path, status)

    def set_delay(self, seconds: float) -> None:
        self.server.delay = seconds

    def stop(self) -> None:
        """Takes the server down: connections to its port are refused."""
        self.server.stop()

    def restart(self) -> None:
        """Brings it back on the same port (the service's ONTO_SERVER_URL stays valid)."""
        previous = self.server
        self.server = OntologyDevServer(self.directory, port=self.port).start()
        self.server.requests.extend(previous.requests)


@contextmanager
def running_ontology(directory: Path, document: Any | None = None) -> Iterator[Ontology]:
    ontology = Ontology(directory)
    if document is not None:
        ontology.write(document)
    try:
        yield ontology
    finally:
        try:
            ontology.stop()
        except OSError:
            pass


def get_schema(stubs: Stubs) -> admin_pb.Schema:
    return stubs.admin.GetSchema(admin_pb.GetSchemaRequest(name="schemas/project_schema"), timeout=10)


def schema_cache_check(stubs: Stubs) -> monitoring_pb.HealthCheck:
    health = stubs.monitoring.GetHealth(monitoring_pb.GetHealthRequest(), timeout=10)
    return next(c for c in health.checks if c.name == "schema_cache")


def overall_health(stubs: Stubs) -> int:
    return stubs.monitoring.GetHealth(monitoring_pb.GetHealthRequest(), timeout=10).status
