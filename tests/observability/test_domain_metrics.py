"""The service's own counters on /metrics: bulk rows imported and exported, ontology schema requests."""

from __future__ import annotations

from pathlib import Path

from duckdb_spawn.v1 import admin_service_pb2 as admin_pb
from duckdb_spawn.v1 import project_service_pb2 as pb

from tests.support.metrics import scrape, value
from tests.support.ontology import project_document, running_ontology
from tests.support.rpc import valid_attributes
from tests.support.servers import in_process_server

IMPORTED = "duckdb_spawn_rows_imported_total"
EXPORTED = "duckdb_spawn_rows_exported_total"
REQUESTS = "duckdb_spawn_ontology_requests_total"
OUTCOMES = ("ok", "not_modified", "http_error", "invalid", "timeout", "unreachable")


def struct_import(names: list[str], mode: int, **bad: str) -> pb.ImportProjectsRequest:
    """One message of rows; the rows whose name ends with '!' get the `bad` attributes."""
    rows = pb.StructRows()
    for name in names:
        rows.rows.add().update(valid_attributes(project_name=name, **(bad if name.endswith("!") else {})))
    return pb.ImportProjectsRequest(mode=mode, struct_rows=rows)


def test_imported_and_exported_rows_are_counted_per_table_and_format(tmp_path: Path) -> None:
    with in_process_server(tmp_path / "bulk.duckdb") as (server, stubs):
        port = server.app.metrics_port
        assert port is not None
        before = scrape(port)
        assert value(before, IMPORTED, table="projects") == 0  # series exist from the start
        assert value(before, EXPORTED, table="projects", format="parquet") == 0

        best_effort = stubs.projects.ImportProjects(iter([
            struct_import(["a", "b!", "c"], pb.IMPORT_MODE_BEST_EFFORT, dscr="1000"),
            struct_import(["d", "e"], pb.IMPORT_MODE_BEST_EFFORT)]), timeout=30)
        assert best_effort.imported_count == 4
        atomic = stubs.projects.ImportProjects(iter([struct_import(["f", "g!"], pb.IMPORT_MODE_ATOMIC,
                                                                   dscr="1000")]), timeout=30)
        assert atomic.imported_count == 0  # nothing written, nothing counted
        assert value(scrape(port), IMPORTED, table="projects") == 4

        def export(export_format: int, filter_text: str = "") -> int:
            chunks = list(stubs.projects.ExportProjects(
                pb.ExportProjectsRequest(format=export_format, filter=filter_text), timeout=30))
            return sum(chunk.row_count for chunk in chunks)

        assert export(pb.EXPORT_FORMAT_JSONL) == 4
        assert export(pb.EXPORT_FORMAT_JSONL, 'project_name = "a"') == 1
        assert export(pb.EXPORT_FORMAT_CSV) == 4
        samples = scrape(port)
        assert value(samples, EXPORTED, table="projects", format="jsonl") == 5
        assert value(samples, EXPORTED, table="projects", format="csv") == 4
        assert value(samples, EXPORTED, table="projects", format="arrow_ipc") == 0


def test_schema_requests_to_the_ontology_server_are_counted_by_outcome(tmp_path: Path) -> None:
    with running_ontology(tmp_path / "ontology", project_document("v1")) as ontology, \
            in_process_server(tmp_path / "db" / "o.duckdb", USE_MOCK_ONTO_SERVER="false", ONTO_SERVER_URL=ontology.url,
                              ONTO_CACHE_TTL="3600", ONTO_SERVER_TIMEOUT="2") as (server, stubs):
        port = server.app.metrics_port
        assert port is not None

        def schema_requests() -> dict[str, float]:
            samples = scrape(port)
            return {outcome: value(samples, REQUESTS, endpoint="schema", outcome=outcome) for outcome in OUTCOMES}

        def refresh() -> admin_pb.SchemaRefreshResult:
            return stubs.admin.RefreshSchemas(admin_pb.RefreshSchemasRequest(), timeout=30).results[0]

        counts = schema_requests()
        assert counts == {**dict.fromkeys(OUTCOMES, 0), "ok": 1}  # the start-up fetch
        expected = dict(counts)
        steps = [
            ("not_modified", lambda: None),  # unchanged: the server answers 304 to If-None-Match
            ("invalid", lambda: ontology.write('{"name": "projects", "columns": [')),
            ("ok", lambda: ontology.write(project_document("v2"))),
            ("http_error", lambda: (ontology.directory / "project_schema.json").unlink()),
            ("unreachable", ontology.stop),
        ]
        for outcome, change in steps:
            change()
            refresh()
            expected[outcome] += 1
            assert schema_requests() == expected, outcome
        samples = scrape(port)
        assert value(samples, "duckdb_spawn_ontology_request_seconds_count", endpoint="schema") == sum(
            expected.values())


def test_the_change_log_and_its_watchers_are_measured(tmp_path: Path) -> None:
    """Log size and oldest age (refreshed by the retention pass), watchers open, changes delivered."""
    from tests.api.test_change_feed import Watcher
    from tests.support.rpc import create_request
    from tests.support.servers import wait_until

    with in_process_server(tmp_path / "feed.duckdb", CHANGE_COMPACTION_INTERVAL="0.1") as (server, stubs):
        port = server.app.metrics_port
        assert port is not None
        assert value(scrape(port), "duckdb_spawn_watchers") == 0
        watcher = Watcher(stubs)
        try:
            watcher.next()
            assert value(scrape(port), "duckdb_spawn_watchers") == 1
            for i in range(3):
                stubs.projects.CreateProject(create_request(project_name=f"m{i}"))
            watcher.until(lambda w: len(w.changes) == 3)
            samples = scrape(port)
            assert value(samples, "duckdb_spawn_changes_delivered_total") == 3
            assert value(samples, "duckdb_spawn_change_log_changes") == 3
            wait_until(lambda: (value(scrape(port), "duckdb_spawn_change_log_oldest_age_seconds") or 0) > 0, 10,
                       "the oldest change's age after a retention pass")
        finally:
            watcher.close()
        wait_until(lambda: value(scrape(port), "duckdb_spawn_watchers") == 0, 10, "the watcher to be gone")
