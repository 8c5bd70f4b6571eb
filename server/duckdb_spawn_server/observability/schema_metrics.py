"""Prometheus metrics of the ontology schema layer and of table administration.

Metrics live in the registry they are given (each Application has its own,
so several in-process servers can run in one test process); the values
that are states rather than events (schema age, circuit, source) are read
from the cache at scrape time.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, Counter
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from ..domain.schema_registry import SchemaCacheStatus
from .metrics import DomainMetrics

# The seed's status values for duckdb_table_creations_total (dashboards expect them).
CREATION_SUCCESS = "success"
CREATION_FAILED = "failed"


class SchemaMetrics:
    """Also the schema cache's metrics port (ontology/cache_metrics.py `SchemaCacheMetrics`).

    `requests` counts the cache's requests to the ontology server
    (`duckdb_spawn_ontology_requests_total{endpoint="schema"}`); without it they are not counted.
    """

    def __init__(self, registry: CollectorRegistry | None = None, *, requests: DomainMetrics | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        self._requests = requests
        self.fetches = Counter(
            "ontology_schema_fetches", "Schema fetches from the ontology server, by outcome "
            "(updated, unchanged, not_modified, rejected, error).",
            ["schema_id", "outcome"], registry=self.registry)
        self.rejections = Counter(
            "ontology_schema_rejections", "Fetched schema documents rejected as invalid; the previous schema stays.",
            ["schema_id"], registry=self.registry)
        self.table_operations = Counter(
            "duckdb_table_operations", "Table administration operations (create, update, auto_migrate, delete) "
            "by status (success, failed, refused, dry_run).",
            ["operation", "status"], registry=self.registry)
        self.table_creations = Counter(
            "duckdb_table_creations", "Tables created, by status (success or failed).", ["status"],
            registry=self.registry)

    # -- SchemaCacheMetrics: `outcome`s arrive as strings (FetchOutcome is a StrEnum) --------
    def observe_schema_request(self, outcome: str, seconds: float) -> None:
        if self._requests is not None:
            self._requests.observe_ontology_request("schema", outcome, seconds)

    def count_schema_fetch(self, schema_id: str, outcome: str) -> None:
        self.fetches.labels(schema_id=schema_id, outcome=outcome).inc()

    def count_schema_rejection(self, schema_id: str) -> None:
        self.rejections.labels(schema_id=schema_id).inc()

    def table_operation(self, operation: str, status: str) -> None:
        self.table_operations.labels(operation=operation, status=status).inc()

    def table_created(self, ok: bool) -> None:
        self.table_creations.labels(status=CREATION_SUCCESS if ok else CREATION_FAILED).inc()

    def watch_cache(self, status: Callable[[], SchemaCacheStatus]) -> None:
        """Exposes the cache's state (age, source, circuit) at every scrape."""
        self.registry.register(_CacheCollector(status))


class _CacheCollector(Collector):
    def __init__(self, status: Callable[[], SchemaCacheStatus]) -> None:
        self._status = status

    def describe(self) -> Iterator[GaugeMetricFamily]:
        return iter(())  # values are only known at scrape time

    def collect(self) -> Iterator[GaugeMetricFamily]:
        status = self._status()
        age = GaugeMetricFamily("ontology_schema_age_seconds",
                                "Seconds since each schema was last fetched or revalidated.", labels=["schema_id"])
        source = GaugeMetricFamily("ontology_schema_source",
                                   "1 for the source each schema is served from (server, cache, disk, mock).",
                                   labels=["schema_id", "source"])
        for info in status.schemas:
            if info.age_seconds is not None:
                age.add_metric([info.schema_id], info.age_seconds)
            source.add_metric([info.schema_id, info.source.value], 1)
        circuit = GaugeMetricFamily("ontology_circuit_open",
                                    "1 while the circuit breaker keeps requests away from the ontology server.",
                                    value=1 if status.circuit_open else 0)
        yield age
        yield source
        yield circuit
