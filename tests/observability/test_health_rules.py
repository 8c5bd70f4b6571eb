"""The documented rules: check verdicts, how they combine, and what readiness needs."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path

import grpc
import pytest
from duckdb_spawn.v1 import admin_service_pb2 as apb
from duckdb_spawn_server.domain.migration import MigrationStep, StepAction, StepSafety
from duckdb_spawn_server.domain.schema_registry import SchemaCacheStatus as CacheStatus
from duckdb_spawn_server.domain.schema_registry import SchemaInfo, SchemaSource
from duckdb_spawn_server.observability.checks import CheckResult, HealthReporter, Status
from duckdb_spawn_server.observability.correlation import (
    CorrelationIdFilter,
    accept_correlation_id,
    reset_correlation_id,
    set_correlation_id,
)
from duckdb_spawn_server.observability.health import LIVENESS, READINESS, HealthState
from duckdb_spawn_server.observability.health_checks import by_percent, safe_url, schema_cache_check
from duckdb_spawn_server.observability.metrics import DomainMetrics
from duckdb_spawn_server.observability.monitor import HealthMonitor
from duckdb_spawn_server.observability.schema_status import SchemaCacheSnapshot
from duckdb_spawn_server.ontology.mock import mock_schema
from grpc_health.v1 import health_pb2

from tests.support.rpc import call_error
from tests.support.servers import in_process_server

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


class Schemas:
    def __init__(self, *snapshots: SchemaCacheSnapshot) -> None:
        self.snapshots = list(snapshots)

    def cache_status(self) -> list[SchemaCacheSnapshot]:
        return self.snapshots


def test_overall_verdict_is_the_worst_check() -> None:
    def reporter(*statuses: Status) -> HealthReporter:
        checks = [(f"c{i}", lambda s=s, i=i: CheckResult(f"c{i}", s, "m")) for i, s in enumerate(statuses)]
        return HealthReporter(checks, "v", datetime.now(UTC), 0.0)

    assert reporter(Status.HEALTHY, Status.HEALTHY).report().status is Status.HEALTHY
    assert reporter(Status.HEALTHY, Status.DEGRADED).report().status is Status.DEGRADED
    assert reporter(Status.DEGRADED, Status.UNHEALTHY, Status.HEALTHY).report().status is Status.UNHEALTHY

    def broken() -> CheckResult:
        raise RuntimeError("boom")

    report = HealthReporter([("broken", broken)], "v", datetime.now(UTC), 0.0).report()
    assert report.status is Status.UNHEALTHY and report.checks[0].message == "check failed: RuntimeError"


def test_resource_thresholds() -> None:
    assert by_percent(89.9, 90, 98) is Status.HEALTHY
    assert by_percent(90, 90, 98) is Status.DEGRADED
    assert by_percent(98, 90, 98) is Status.UNHEALTHY
    assert by_percent(100, 95) is Status.DEGRADED  # cpu: never worse than degraded


def _status(*infos: SchemaInfo, missing: tuple[str, ...] = (), reachable: bool | None = True) -> CacheStatus:
    return CacheStatus(schemas=infos, missing=missing, ontology_reachable=reachable, circuit_open=False,
                       stale_after_seconds=66.0, use_mock=True)


def test_schema_cache_rules() -> None:
    schema = mock_schema("project_schema")
    fresh = SchemaInfo("project_schema", schema, SchemaSource.SERVER, age_seconds=3.0)
    assert schema_cache_check(_status(missing=("project_schema",)), {}).status is Status.UNHEALTHY
    assert schema_cache_check(_status(fresh), {}).status is Status.HEALTHY
    stale = SchemaInfo("project_schema", schema, SchemaSource.CACHE, age_seconds=900.0, last_error="timeout")
    result = schema_cache_check(_status(stale, reachable=False), {})
    assert result.status is Status.DEGRADED and "stale" in result.message and "unreachable" in result.message
    assert result.observed["schemas"]["project_schema"]["last_error"] == "timeout"
    disk = SchemaInfo("project_schema", schema, SchemaSource.DISK, age_seconds=10.0)
    assert schema_cache_check(_status(disk), {}).status is Status.DEGRADED
    mock = SchemaInfo("project_schema", schema, SchemaSource.MOCK)
    mocked = schema_cache_check(_status(mock), {})
    assert mocked.status is Status.DEGRADED and "built-in mock" in mocked.message
    step = MigrationStep(StepAction.DROP_COLUMN, "x", StepSafety.DESTRUCTIVE, "not in the schema")
    pending = schema_cache_check(_status(fresh), {"projects": [step]})
    assert pending.status is Status.DEGRADED and "migration pending on table projects" in pending.message


class _Statuses:
    """state[service]: what the Health service answers for it now."""

    def __init__(self, state: HealthState) -> None:
        self._state = state

    def __getitem__(self, service: str) -> int | None:
        return self._state.status(service)


def test_readiness_needs_startup_every_dependency_and_no_drain() -> None:
    state = HealthState(("svc",))
    status = _Statuses(state)
    assert status[READINESS] == NOT_SERVING and status[LIVENESS] == SERVING
    state.set_ready(True)
    assert status[READINESS] == SERVING and status["svc"] == SERVING
    schemas = Schemas()
    monitor = HealthMonitor(state, [("schema", lambda: (bool(schemas.cache_status()), "no schema has loaded yet"))],
                            interval=60)
    monitor.run_once()
    assert status[READINESS] == NOT_SERVING and state.failing == {"schema": "no schema has loaded yet"}
    assert status[LIVENESS] == SERVING
    schemas.snapshots.append(SchemaCacheSnapshot("project_schema", "mock", "v1", 0.0))
    monitor.run_once()
    assert status[READINESS] == SERVING
    state.start_draining()
    assert status[READINESS] == NOT_SERVING


def test_readiness_changes_are_published_once() -> None:
    state = HealthState(())
    sent: list[int] = []
    state.subscribe(lambda service, status: sent.append(status) if service == READINESS else None)
    state.set_ready(True)
    for _ in range(3):
        state.set_dependency("database", True)
    state.set_dependency("database", False, "down")
    state.set_dependency("database", False, "down")
    state.set_dependency("database", True)
    assert sent == [SERVING, NOT_SERVING, SERVING]


def test_client_request_ids_are_accepted_only_as_short_tokens() -> None:
    assert accept_correlation_id("abc") == "abc"
    assert accept_correlation_id("3f2b8c1e-4d5a-4e6f-8a7b-9c0d1e2f3a4b") == "3f2b8c1e-4d5a-4e6f-8a7b-9c0d1e2f3a4b"
    for bad in ("", "two words", "x" * 129, 'quote"d', "new\nline", None):
        assert accept_correlation_id(bad) is None


def test_every_log_record_written_during_a_request_carries_its_id() -> None:
    record = logging.LogRecord("duckdb_spawn_server.x", logging.INFO, __file__, 1, "m", None, None)
    token = set_correlation_id("req-1")
    try:
        CorrelationIdFilter().filter(record)
    finally:
        reset_correlation_id(token)
    assert record.request_id == "req-1"


def test_urls_are_shown_without_credentials() -> None:
    assert safe_url("https://user:pa55@onto.example:8443/base/health?token=x#f") == "https://onto.example:8443/base/health"


def test_domain_metrics_keep_labels_to_the_documented_sets() -> None:
    metrics = DomainMetrics()
    metrics.observe_ontology_request("schema", "not_modified", 0.01)
    metrics.add_exported_rows("projects", "parquet", 10)
    with pytest.raises(ValueError):
        metrics.observe_ontology_request("schema", "sort-of", 0.01)
    with pytest.raises(ValueError):
        metrics.add_exported_rows("projects", "xlsx", 1)


def test_log_level_changes_at_run_time_for_every_service_logger(tmp_path: Path) -> None:
    with in_process_server(tmp_path / "l.duckdb") as (_, stubs):
        try:
            assert stubs.admin.SetLogLevel(apb.SetLogLevelRequest(level="warn")).level == "WARNING"
            for name in ("duckdb_spawn_server.rpc", "duckdb_spawn_server.app", "duckdb_spawn_server.storage.writer"):
                assert logging.getLogger(name).getEffectiveLevel() == logging.WARNING
            assert stubs.admin.GetLogLevel(apb.GetLogLevelRequest()).level == "WARNING"
            error = call_error(stubs.admin.SetLogLevel, apb.SetLogLevelRequest(level="LOUD"))
            assert error.code == grpc.StatusCode.INVALID_ARGUMENT
            assert error.violations == {"level": "INVALID_LOG_LEVEL"}
        finally:
            stubs.admin.SetLogLevel(apb.SetLogLevelRequest(level="INFO"))
