"""The service's own Prometheus metrics, in one registry per Application.

Components receive the `ServiceMetrics` of their Application and count
through the documented objects of `DomainMetrics`; nothing registers in
prometheus_client's global registry, so several servers in one process
(the test suite) keep separate counts.

Counted by the code that does the work (increment these):

| object | metric | labels | meaning |
|---|---|---|---|
| `ontology_requests` | `duckdb_spawn_ontology_requests_total` | endpoint, outcome | requests to the ontology server |
| `ontology_request_seconds` | `duckdb_spawn_ontology_request_seconds` | endpoint | their latency (histogram) |
| `rows_imported` | `duckdb_spawn_rows_imported_total` | table | rows committed by ImportProjects |
| `rows_exported` | `duckdb_spawn_rows_exported_total` | table, format | rows streamed by ExportProjects |

Who counts: schema requests ontology/schema_pipeline.py (through
observability/schema_metrics.py), health requests
observability/health_checks.py, imported rows domain/imports.py, exported
rows domain/projects.py (ProjectManager.metrics).

`endpoint` is `health` or `schema`; `outcome` of an ontology request is one of
`ONTOLOGY_OUTCOMES`; `format` one of `EXPORT_FORMATS`. Use the helper
methods, which keep label values to these sets. Table administration is
counted by observability/schema_metrics.py (`duckdb_table_operations_total`,
`duckdb_table_creations_total`, the names issue 4 and the seed's dashboards use).

Read at scrape time from live state (observability/collectors.py): gRPC
(`grpc_server_*`, observability/grpc_metrics.py), the read pool and the
writer, the database files and rows per table, the schema cache, readiness
and health checks, the ontology server's last health probe, and system
gauges (cpu, memory, disk of the database volume, process).
"""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.metrics import disable_created_metrics

from .grpc_metrics import GrpcServerMetrics

PREFIX = "duckdb_spawn"

ONTOLOGY_ENDPOINTS = ("health", "schema")
# ok: 2xx; not_modified: 304 to a conditional request; http_error: any other
# status; invalid: a body that failed validation; timeout; unreachable:
# connection refused or reset, DNS failure.
ONTOLOGY_OUTCOMES = ("ok", "not_modified", "http_error", "invalid", "timeout", "unreachable")
EXPORT_FORMATS = ("arrow_ipc", "parquet", "csv", "jsonl")

# prometheus_client adds a `<name>_created` series to every counter and
# histogram; Go services (and so existing dashboards) have none, and it
# doubles the series count of the per-code gRPC counters.
disable_created_metrics()


class DomainMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        registry = registry if registry is not None else CollectorRegistry()
        self.ontology_requests = Counter(
            f"{PREFIX}_ontology_requests", "Requests to the ontology server, by endpoint and outcome.",
            ("endpoint", "outcome"), registry=registry)
        self.ontology_request_seconds = Histogram(
            f"{PREFIX}_ontology_request_seconds", "Latency of requests to the ontology server.",
            ("endpoint",), buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
            registry=registry)
        self.rows_imported = Counter(
            f"{PREFIX}_rows_imported", "Rows committed by bulk imports, by table.", ("table",), registry=registry)
        self.rows_exported = Counter(
            f"{PREFIX}_rows_exported", "Rows streamed by exports, by table and format.", ("table", "format"),
            registry=registry)
        for endpoint in ONTOLOGY_ENDPOINTS:
            self.ontology_request_seconds.labels(endpoint)
            for outcome in ONTOLOGY_OUTCOMES:
                self.ontology_requests.labels(endpoint, outcome)

    def observe_ontology_request(self, endpoint: str, outcome: str, seconds: float) -> None:
        _check(endpoint, ONTOLOGY_ENDPOINTS, "endpoint")
        _check(outcome, ONTOLOGY_OUTCOMES, "outcome")
        self.ontology_requests.labels(endpoint, outcome).inc()
        self.ontology_request_seconds.labels(endpoint).observe(seconds)

    def add_imported_rows(self, table: str, rows: int) -> None:
        self.rows_imported.labels(table).inc(rows)

    def add_exported_rows(self, table: str, export_format: str, rows: int) -> None:
        _check(export_format, EXPORT_FORMATS, "format")
        self.rows_exported.labels(table, export_format).inc(rows)

    def initialize_tables(self, tables: Iterable[str]) -> None:
        """Creates the per-table series at zero once the hosted tables are known."""
        for table in tables:
            self.rows_imported.labels(table)
            for export_format in EXPORT_FORMATS:
                self.rows_exported.labels(table, export_format)


def _check(value: str, allowed: tuple[str, ...], what: str) -> None:
    if value not in allowed:
        raise ValueError(f"{what} {value!r} is not one of {', '.join(allowed)}")


class ServiceMetrics:
    """Everything one Application exports: its registry, gRPC metrics and domain metrics."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.grpc = GrpcServerMetrics(self.registry)
        self.domain = DomainMetrics(self.registry)
