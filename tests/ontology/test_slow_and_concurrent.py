"""A slow ontology server never holds an RPC past its deadline; a cold cache fetches once."""

from __future__ import annotations

import threading
from pathlib import Path

import grpc
import pytest
from duckdb_spawn.v1 import admin_service_pb2 as admin_pb
from duckdb_spawn_server.observability.schema_metrics import SchemaMetrics
from duckdb_spawn_server.ontology.cache import CacheSettings, SchemaCache
from duckdb_spawn_server.ontology.client import OntologyClient
from duckdb_spawn_server.ontology.disk_copy import DiskCopies

from tests.support.ontology import Ontology
from tests.support.rpc import call_error, create_request
from tests.support.servers import in_process_server, wait_until


@pytest.mark.parametrize("onto_timeout", ["0.5", "30"], ids=["server slower than ONTO_SERVER_TIMEOUT",
                                                             "RPC deadline shorter than ONTO_SERVER_TIMEOUT"])
def test_a_slow_server_on_a_cold_start_never_holds_an_rpc_past_its_deadline(
        tmp_path: Path, ontology: Ontology, onto_timeout: str) -> None:
    ontology.set_delay(3.0)
    with in_process_server(tmp_path / "db.duckdb", require_ready=False, USE_MOCK_ONTO_SERVER="false",
                           ONTO_SERVER_URL=ontology.url, ONTO_SERVER_TIMEOUT=onto_timeout) as (server, stubs):
        wait_until(lambda: server.app.projects.peek() is not None, 30, "the database to open")
        # The first fetch is still in flight. The server answers by itself before the client's
        # deadline -- UNAVAILABLE with RetryInfo -- rather than letting it run out (DEADLINE_EXCEEDED).
        error = call_error(stubs.projects.CreateProject, create_request(), timeout=2.0)
        assert error.code == grpc.StatusCode.UNAVAILABLE, error.message
        assert error.error_info.reason == "SCHEMA_UNAVAILABLE" and error.retry_info is not None
        ontology.set_delay(0)
        wait_until(lambda: server.app.health.ready, 30, "readiness once the server is quick again")
        assert stubs.projects.CreateProject(create_request(), timeout=10).schema_version == "v1"


def test_a_slow_server_does_not_slow_requests_once_a_schema_is_held(tmp_path: Path, ontology: Ontology) -> None:
    with in_process_server(tmp_path / "db.duckdb", USE_MOCK_ONTO_SERVER="false", ONTO_SERVER_URL=ontology.url,
                           ONTO_CACHE_TTL="0.2", ONTO_SERVER_TIMEOUT="30") as (_, stubs):
        ontology.set_delay(5.0)  # every revalidation now hangs for longer than the RPCs may wait
        wait_until(lambda: ontology.server.in_flight > 0, 10, "a revalidation to hang")
        for i in range(5):  # stale-while-revalidate: served at once from the schema in hand
            assert stubs.projects.CreateProject(create_request(project_name=f"p{i}"), timeout=2.0)
        # An explicit refresh reports back before its deadline; the fetch goes on in the background.
        refresh = stubs.admin.RefreshSchemas(admin_pb.RefreshSchemasRequest(), timeout=2.0).results[0]
        assert refresh.outcome == admin_pb.REFRESH_OUTCOME_FAILED and "deadline" in refresh.message
        assert refresh.version == "v1"
        ontology.set_delay(0)


def test_fifty_concurrent_requests_on_a_cold_cache_cause_exactly_one_fetch(ontology: Ontology) -> None:
    ontology.set_delay(0.3)  # long enough for every caller to arrive while the fetch is in flight
    cache = SchemaCache(["project_schema"], OntologyClient(ontology.url, 5.0), DiskCopies(None),
                        CacheSettings(ttl=60, use_mock=False), SchemaMetrics())
    barrier = threading.Barrier(50)
    results: list[object] = []

    def request() -> None:
        barrier.wait()
        results.append(cache.active("project_schema", timeout=10).schema.version)

    threads = [threading.Thread(target=request) for _ in range(50)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        assert results == ["v1"] * 50
        assert ontology.count() == 1
    finally:
        cache.stop()


def test_the_cache_serves_a_json_schema_document_like_a_seed_one(ontology: Ontology) -> None:
    ontology.write({
        "$schema": "https://json-schema.org/draft/2020-12/schema", "x-duckdb-table": "projects",
        "x-duckdb-version": "js-1", "type": "object", "required": ["project_id", "project_name"],
        "properties": {"project_id": {"type": "string", "format": "uuid", "readOnly": True},
                       "project_name": {"type": "string", "maxLength": 80}}})
    cache = SchemaCache(["project_schema"], OntologyClient(ontology.url, 5.0), DiskCopies(None),
                        CacheSettings(ttl=60, use_mock=False), SchemaMetrics())
    try:
        active = cache.active("project_schema", timeout=10)
        assert active.schema.version == "js-1" and active.schema.source_format == "json-schema"
        assert [c.name for c in active.schema.columns] == ["project_id", "project_name"]
    finally:
        cache.stop()
