"""Fetch → validate → install on its own: a scripted ontology client, a real disk copy, no refresher."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from duckdb_spawn_server.domain.schema import TableSchema
from duckdb_spawn_server.domain.schema_registry import RefreshOutcome, RefreshReport, SchemaSource, SwapResult
from duckdb_spawn_server.observability.metrics import DomainMetrics
from duckdb_spawn_server.observability.schema_metrics import SchemaMetrics
from duckdb_spawn_server.ontology.breaker import CircuitBreaker
from duckdb_spawn_server.ontology.cache_metrics import FetchOutcome
from duckdb_spawn_server.ontology.client import Fetched, OntologyClient, OntologyError
from duckdb_spawn_server.ontology.disk_copy import DiskCopies, DiskCopy
from duckdb_spawn_server.ontology.schema_pipeline import CIRCUIT_OPEN, SchemaPipeline
from duckdb_spawn_server.ontology.schemas_in_force import SchemasInForce
from prometheus_client import CollectorRegistry

from tests.support.ontology import project_document

SID = "project_schema"
NOW = 1000.0  # the pipeline's monotonic clock, frozen


class ScriptedClient(OntologyClient):
    """Answers each fetch with the next scripted answer (a Fetched, or an OntologyError to raise)."""

    def __init__(self, *answers: Fetched | OntologyError) -> None:
        super().__init__("http://ontology.invalid", 1.0)
        self.answers = list(answers)
        self.etags_sent: list[str] = []
        self.release = threading.Event()  # cleared: fetches wait until it is set
        self.release.set()

    def fetch_schema(self, schema_id: str, etag: str = "", *, timeout: float | None = None) -> Fetched:
        self.release.wait(5)
        self.etags_sent.append(etag)
        answer = self.answers.pop(0)
        if isinstance(answer, OntologyError):
            raise answer
        return answer


class RecordedMetrics:
    def __init__(self) -> None:
        self.requests: list[str] = []
        self.fetches: list[FetchOutcome] = []
        self.rejections = 0

    def observe_schema_request(self, outcome: str, seconds: float) -> None:
        self.requests.append(outcome)

    def count_schema_fetch(self, schema_id: str, outcome: FetchOutcome) -> None:
        self.fetches.append(outcome)

    def count_schema_rejection(self, schema_id: str) -> None:
        self.rejections += 1


def document(version: str, etag: str = "") -> Fetched:
    return Fetched(False, json.dumps(project_document(version)).encode(), etag or f'"{version}"')


class Rig:
    """A pipeline over its own SchemasInForce and disk directory; the swap hook records each swap."""

    def __init__(self, directory: Path, client: ScriptedClient,
                 metrics: RecordedMetrics | SchemaMetrics | None = None) -> None:
        self.client = client
        self.metrics = metrics if metrics is not None else RecordedMetrics()
        self.disk = DiskCopies(directory)
        self.schemas = SchemasInForce([SID], ttl=60.0, clock=lambda: NOW)
        self.swaps: list[tuple[str | None, str]] = []
        self.schemas.set_swap_hook(self._swap)
        breaker = CircuitBreaker(threshold=1, base=60.0, cap=60.0)
        self.pipeline = SchemaPipeline(self.schemas, client, self.disk, breaker, self.metrics, clock=lambda: NOW)

    def _swap(self, schema_id: str, old: TableSchema | None, new: TableSchema) -> SwapResult:
        self.swaps.append((old.version if old else None, new.version))
        return SwapResult()

    def refresh(self, *, force: bool = False) -> RefreshReport:
        return self.pipeline.start(SID, force=force).result(timeout=5)


@pytest.fixture
def rig_for(tmp_path: Path) -> Iterator[Callable[..., Rig]]:
    rigs: list[Rig] = []

    def make(*answers: Fetched | OntologyError, metrics: SchemaMetrics | None = None) -> Rig:
        rigs.append(Rig(tmp_path / f"schemas-{len(rigs)}", ScriptedClient(*answers), metrics))
        return rigs[-1]

    yield make
    for rig in rigs:
        rig.pipeline.stop()
        rig.client.close()


def test_a_valid_document_is_swapped_in_persisted_and_counted(rig_for: Callable[..., Rig]) -> None:
    rig = rig_for(document("v1"))
    told: list[bool] = []
    rig.schemas.add_listener(lambda: told.append(True))
    report = rig.refresh()
    assert (report.outcome, report.previous_version, report.version) == (RefreshOutcome.UPDATED, "", "v1")
    assert rig.swaps == [(None, "v1")] and told == [True]
    held = rig.schemas.get(SID)
    assert held is not None and held.origin is SchemaSource.SERVER and held.etag == '"v1"'
    copy = rig.disk.load(SID)
    assert copy is not None and copy.etag == '"v1"' and json.loads(copy.body)["version"] == "v1"
    assert rig.metrics.requests == ["ok"] and rig.metrics.fetches == [FetchOutcome.UPDATED]
    assert rig.pipeline.reachable is True and not rig.pipeline.in_flight(SID)


def test_a_304_renews_the_schema_without_a_swap(rig_for: Callable[..., Rig]) -> None:
    rig = rig_for(document("v1"), Fetched(True, b"", '"v1"'))
    rig.refresh()
    report = rig.refresh()
    assert report.outcome is RefreshOutcome.UNCHANGED and report.message == "not modified (HTTP 304)"
    assert rig.client.etags_sent == ["", '"v1"'] and rig.swaps == [(None, "v1")]
    assert rig.metrics.requests == ["ok", "not_modified"]
    assert rig.metrics.fetches == [FetchOutcome.UPDATED, FetchOutcome.NOT_MODIFIED]


def test_identical_content_keeps_the_compiled_schema(rig_for: Callable[..., Rig]) -> None:
    rig = rig_for(document("v1"), document("v1", etag='"other"'))
    rig.refresh()
    first = rig.schemas.get(SID)
    report = rig.refresh()
    second = rig.schemas.get(SID)
    assert report.outcome is RefreshOutcome.UNCHANGED and report.message == "identical content"
    assert first is not None and second is not None and second.active is first.active
    assert second.etag == '"other"' and rig.swaps == [(None, "v1")]
    copy = rig.disk.load(SID)
    assert copy is not None and copy.etag == '"other"'  # the new ETag is persisted for the next cold start
    assert rig.metrics.fetches == [FetchOutcome.UPDATED, FetchOutcome.UNCHANGED]


def test_a_rejected_document_leaves_the_schema_in_force(rig_for: Callable[..., Rig]) -> None:
    rig = rig_for(document("v1"), Fetched(False, b'{"name": "projects", "columns": "nope"}', '"bad"'))
    rig.refresh()
    report = rig.refresh()
    assert report.outcome is RefreshOutcome.FAILED and report.message.startswith("schema rejected: ")
    assert report.version == "v1" and rig.schemas.version(SID) == "v1" and rig.swaps == [(None, "v1")]
    assert rig.schemas.error(SID) == report.message
    assert rig.schemas.retry_at(SID) == NOW + 60.0  # not asked again before the next TTL
    assert rig.metrics.requests == ["ok", "invalid"] and rig.metrics.rejections == 1
    assert rig.metrics.fetches == [FetchOutcome.UPDATED, FetchOutcome.REJECTED]


def test_a_refused_swap_leaves_the_schema_in_force(rig_for: Callable[..., Rig]) -> None:
    rig = rig_for(document("v1"), document("v2"))
    rig.refresh()

    def refuse(schema_id: str, old: TableSchema | None, new: TableSchema) -> SwapResult:
        raise RuntimeError("no room")

    rig.schemas.set_swap_hook(refuse)
    report = rig.refresh()
    assert report.outcome is RefreshOutcome.FAILED and "could not be prepared for version v2" in report.message
    assert rig.schemas.version(SID) == "v1" and rig.schemas.error(SID) == report.message
    copy = rig.disk.load(SID)
    assert copy is not None and json.loads(copy.body)["version"] == "v1"
    assert rig.metrics.fetches == [FetchOutcome.UPDATED, FetchOutcome.ERROR]


def test_a_failed_fetch_opens_the_circuit_and_holds_back_the_next_attempt(rig_for: Callable[..., Rig]) -> None:
    rig = rig_for(OntologyError("the ontology server did not answer within 1s", "timeout"))
    report = rig.refresh()
    assert report.outcome is RefreshOutcome.FAILED and "did not answer" in report.message
    assert rig.metrics.requests == ["timeout"] and rig.metrics.fetches == [FetchOutcome.ERROR]
    assert rig.pipeline.reachable is False and rig.schemas.error(SID) == report.message
    held_back = rig.refresh()  # not forced: the open circuit keeps the client from being asked
    assert held_back.message == CIRCUIT_OPEN and rig.client.etags_sent == [""]


def test_concurrent_refreshes_share_one_fetch(rig_for: Callable[..., Rig]) -> None:
    rig = rig_for(document("v1"))
    rig.client.release.clear()
    first = rig.pipeline.start(SID)
    second = rig.pipeline.start(SID, force=True)
    assert second is first and rig.pipeline.in_flight(SID)
    rig.client.release.set()
    assert first.result(timeout=5).version == "v1" and rig.client.etags_sent == [""]


def test_with_nothing_from_the_server_the_mock_serves_only_when_enabled(rig_for: Callable[..., Rig]) -> None:
    rig = rig_for()
    rig.pipeline.fall_back(SID, use_mock=False)
    assert rig.schemas.get(SID) is None  # nothing on disk and the mock disabled: no schema is invented
    rig.pipeline.fall_back(SID, use_mock=True)
    held = rig.schemas.get(SID)
    assert held is not None and held.origin is SchemaSource.MOCK and rig.swaps == [(None, held.active.schema.version)]


def test_the_disk_copy_is_preferred_to_the_mock(rig_for: Callable[..., Rig]) -> None:
    rig = rig_for()
    rig.disk.save(DiskCopy(SID, json.dumps(project_document("v7")), '"v7"', datetime(2024, 1, 1, tzinfo=UTC)))
    rig.pipeline.fall_back(SID, use_mock=True)
    held = rig.schemas.get(SID)
    assert held is not None and held.origin is SchemaSource.DISK and held.etag == '"v7"'
    assert rig.swaps == [(None, "v7")]


def test_the_prometheus_exporter_labels_what_the_pipeline_counts(rig_for: Callable[..., Rig]) -> None:
    registry = CollectorRegistry()
    exporter = SchemaMetrics(registry, requests=DomainMetrics(registry))
    rig = rig_for(document("v1"), Fetched(False, b"{}", '"bad"'), metrics=exporter)
    rig.refresh()
    rig.refresh()
    fetches = {outcome: registry.get_sample_value("ontology_schema_fetches_total",
                                                  {"schema_id": SID, "outcome": outcome})
               for outcome in ("updated", "rejected")}
    assert fetches == {"updated": 1.0, "rejected": 1.0}
    assert registry.get_sample_value("ontology_schema_rejections_total", {"schema_id": SID}) == 1.0
    assert registry.get_sample_value("duckdb_spawn_ontology_requests_total",
                                     {"endpoint": "schema", "outcome": "invalid"}) == 1.0
