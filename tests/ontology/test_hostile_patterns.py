"""Ontology patterns run in RE2: a backtracking pattern cannot freeze the service, one RE2 cannot run is refused.

The ontology is the repository's development server on loopback; the service
fetches the documents over HTTP like in production. `^(a+)+$` against 30 × `a`
and a `!` took 12.5 s in Python's `re` (each extra character doubles it) while
holding the GIL; every call below carries a deadline of a few seconds, so the
old engine fails these tests instead of merely slowing them.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import grpc
import pyarrow as pa
import pytest
from duckdb_spawn.v1 import admin_service_pb2 as admin_pb
from duckdb_spawn.v1 import project_service_pb2 as pb

from tests.support.ontology import (
    Ontology,
    get_schema,
    project_document,
    project_json_schema,
    running_ontology,
)
from tests.support.rpc import call_error, create_request, valid_attributes
from tests.support.servers import InProcessServer, Stubs, in_process_server

DEADLINE = 5.0  # seconds; the old engine needed 12.5 for HOSTILE_VALUE alone
BACKTRACKING = "^(a+)+$"
HOSTILE_VALUE = "a" * 30 + "!"

DOCUMENTS = {
    "seed": lambda version, pattern: project_document(version, project_name={"pattern": pattern}),
    "json-schema": lambda version, pattern: project_json_schema(version, project_name={"pattern": pattern}),
}


@contextmanager
def _serve(tmp_path: Path, document: dict[str, Any]) -> Iterator[tuple[InProcessServer, Stubs, Ontology]]:
    with running_ontology(tmp_path / "ontology", document) as ontology, \
            in_process_server(tmp_path / "data" / "db.duckdb", USE_MOCK_ONTO_SERVER="false",
                              ONTO_SERVER_URL=ontology.url, ONTO_CACHE_TTL="60", ONTO_SERVER_TIMEOUT="2") as pair:
        yield pair[0], pair[1], ontology


def _arrow_rows(names: list[str]) -> bytes:
    base = valid_attributes()
    table = pa.table({key: [value] * len(names) for key, value in base.items() if key != "project_name"}
                     | {"project_name": names})
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue().to_pybytes()


def _struct_rows(names: list[str]) -> pb.StructRows:
    rows = pb.StructRows()
    for name in names:
        rows.rows.add().update(valid_attributes(project_name=name))
    return rows


@pytest.mark.parametrize("document_format", list(DOCUMENTS))
def test_a_backtracking_pattern_answers_at_once_on_every_write_path(tmp_path: Path, document_format: str) -> None:
    document = DOCUMENTS[document_format]("v1", BACKTRACKING)
    with _serve(tmp_path, document) as (server, stubs, _):
        error = call_error(stubs.projects.CreateProject, create_request(project_name=HOSTILE_VALUE), timeout=DEADLINE)
        assert error.code == grpc.StatusCode.INVALID_ARGUMENT, error.message
        assert error.violations == {"attributes.project_name": "PATTERN_MISMATCH"}
        assert error.error_info.reason == "INVALID_ATTRIBUTES"

        batch = call_error(stubs.projects.BatchCreateProjects, pb.BatchCreateProjectsRequest(requests=[
            create_request(project_name="a" * 30), create_request(project_name=HOSTILE_VALUE)]), timeout=DEADLINE)
        assert batch.code == grpc.StatusCode.INVALID_ARGUMENT
        assert batch.violations == {"requests[1].project.attributes.project_name": "PATTERN_MISMATCH"}

        # Imports: Struct rows go through the row validator, Arrow through the vectorised one.
        names = ["a", HOSTILE_VALUE, "a" * 60, "a" * 40 + "!"]
        imported = stubs.projects.ImportProjects(iter([
            pb.ImportProjectsRequest(mode=pb.IMPORT_MODE_BEST_EFFORT, struct_rows=_struct_rows(names)),
            pb.ImportProjectsRequest(arrow_ipc=_arrow_rows(names)),
        ]), timeout=DEADLINE)
        assert (imported.received_count, imported.imported_count) == (8, 4)
        assert {e.row_number: [(v.field, v.reason) for v in e.field_violations] for e in imported.errors} == {
            row: [("project_name", "PATTERN_MISMATCH")] for row in (2, 4, 6, 8)}

        # A value the pattern accepts is stored; the service stayed responsive throughout.
        created = stubs.projects.CreateProject(create_request(project_name="a" * 30), timeout=DEADLINE)
        assert created.attributes["project_name"] == "a" * 30 and created.schema_version == "v1"
        assert stubs.projects.ListProjects(pb.ListProjectsRequest(), timeout=DEADLINE).total_size == 5
        assert server.app.health.ready


@pytest.mark.parametrize(("document_format", "pattern", "why"), [
    ("seed", r"^(a)\1$", "backreferences are not supported"),
    ("json-schema", r"^(a)\1$", "backreferences are not supported"),
    ("seed", r"^(?=a)a+$", "lookahead and lookbehind are not supported"),
    ("json-schema", r"^(?<!b)a+$", "lookahead and lookbehind are not supported"),
])
def test_a_pattern_re2_cannot_run_rejects_the_document_and_the_schema_in_force_stays(
        tmp_path: Path, caplog: pytest.LogCaptureFixture, document_format: str, pattern: str, why: str) -> None:
    with _serve(tmp_path, DOCUMENTS[document_format]("v1", "^[A-Za-z0-9 ]+$")) as (server, stubs, ontology):
        # A create waits for the first fetch, so v1 is in force before the ontology changes.
        assert stubs.projects.CreateProject(create_request(), timeout=DEADLINE).schema_version == "v1"
        registry = server.app.metrics.registry
        labels = {"schema_id": "project_schema"}
        rejections = registry.get_sample_value("ontology_schema_rejections_total", labels) or 0
        ontology.write(DOCUMENTS[document_format]("v2", pattern))
        with caplog.at_level(logging.ERROR, logger="duckdb_spawn_server"):
            result = stubs.admin.RefreshSchemas(admin_pb.RefreshSchemasRequest(), timeout=DEADLINE).results[0]
        assert result.outcome == admin_pb.REFRESH_OUTCOME_FAILED
        assert result.message.startswith("schema rejected") and why in result.message
        assert result.version == "v1"
        assert any(r.getMessage().startswith("ontology schema rejected") for r in caplog.records)
        assert registry.get_sample_value("ontology_schema_rejections_total", labels) == rejections + 1
        schema = get_schema(stubs)
        assert schema.version == "v1" and why in schema.last_error
        # Validation still uses v1's pattern.
        assert stubs.projects.CreateProject(create_request(project_name="Solar 2"), timeout=DEADLINE)
        refused = call_error(stubs.projects.CreateProject, create_request(project_name="aa!"), timeout=DEADLINE)
        assert refused.violations == {"attributes.project_name": "PATTERN_MISMATCH"}


def test_json_schema_digits_are_ascii_as_in_ecma_262(tmp_path: Path) -> None:
    document = project_json_schema("v1", project_name={"pattern": r"^P-\d+$"})
    with _serve(tmp_path, document) as (_, stubs, _):
        assert stubs.projects.CreateProject(create_request(project_name="P-123"), timeout=DEADLINE)
        for digits in ("١٢٣", "१२३", "１２３"):  # Arabic-Indic, Devanagari, full-width
            error = call_error(stubs.projects.CreateProject, create_request(project_name=f"P-{digits}"),
                               timeout=DEADLINE)
            assert error.violations == {"attributes.project_name": "PATTERN_MISMATCH"}, digits
        imported = stubs.projects.ImportProjects(iter([pb.ImportProjectsRequest(
            mode=pb.IMPORT_MODE_BEST_EFFORT, arrow_ipc=_arrow_rows(["P-7", "P-١", "P-８"]))]), timeout=DEADLINE)
        assert imported.imported_count == 1
        assert [e.row_number for e in imported.errors] == [2, 3]
