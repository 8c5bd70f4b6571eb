"""The checks behind MonitoringService.GetHealth, and the rules each one applies.

| check | HEALTHY | DEGRADED | UNHEALTHY |
|---|---|---|---|
| database | a real query answers within the timeout | - | no answer, an error, or not open yet |
| ontology_server | `/health` answers 2xx, or USE_MOCK_ONTO_SERVER=true (not probed) | no answer or not 2xx | - |
| schema_cache | fresh, from the configured source, tables in sync | see below | no schema has ever loaded |
| disk | database volume < 90% used | >= 90% used | >= 98% used |
| memory | < 90% used | >= 90% used | >= 98% used |
| cpu | < 95% busy | >= 95% busy (never worse: a busy cpu slows, it does not break) | - |

The schema cache is DEGRADED when a schema is stale (revalidation fails),
while the built-in mock or the last-known-good copy on disk serves (the
cache keeps asking the ontology server, whose schemas replace them as soon
as it answers), or when tables differ from their schema (migrations pending).

The overall verdict is the worst of them (observability/checks.py). An
unreachable ontology server only degrades the service because the schema
cache keeps serving the last schema that validated.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import urlsplit, urlunsplit

import httpx

from ..domain.migration import MigrationStep
from ..domain.schema_registry import SchemaCacheStatus
from ..storage.database import Database
from ..storage.probe import DatabaseProbe
from .checks import CheckResult, Status
from .metrics import DomainMetrics
from .system import CpuMeter, CpuSample, sample_disk, sample_memory


@dataclass(frozen=True)
class Thresholds:
    disk_degraded_percent: float = 90.0
    disk_unhealthy_percent: float = 98.0
    memory_degraded_percent: float = 90.0
    memory_unhealthy_percent: float = 98.0
    cpu_degraded_percent: float = 95.0


THRESHOLDS = Thresholds()


def by_percent(percent: float, degraded: float, unhealthy: float | None = None) -> Status:
    if unhealthy is not None and percent >= unhealthy:
        return Status.UNHEALTHY
    return Status.DEGRADED if percent >= degraded else Status.HEALTHY


def disk_check(path: str, reserve_bytes: int = 0, wal_bytes: int = 0,
               thresholds: Thresholds = THRESHOLDS) -> CheckResult:
    """The volume's use; UNHEALTHY with the reason while writes are refused for want of the free-space reserve.

    Writes are refused when free space, less the WAL still to be checkpointed, is below the reserve
    (storage/disk_guard.py has the whole rule).
    """
    disk = sample_disk(path)
    observed = {"path": disk.path, "total_bytes": disk.total_bytes, "free_bytes": disk.free_bytes,
                "used_percent": disk.percent}
    if reserve_bytes > 0:
        observed.update(reserve_bytes=reserve_bytes, wal_bytes=wal_bytes)
        if disk.free_bytes - wal_bytes < reserve_bytes:
            return CheckResult("disk", Status.UNHEALTHY,
                               f"writes refused: {disk.free_bytes} bytes free on the database volume, less "
                               f"{wal_bytes} bytes of WAL still to checkpoint, is below the reserve of "
                               f"{reserve_bytes} (DISK_FREE_RESERVE); reads go on, writes resume once space "
                               "is freed", observed)
    status = by_percent(disk.percent, thresholds.disk_degraded_percent, thresholds.disk_unhealthy_percent)
    return CheckResult("disk", status, f"database volume {disk.percent:.1f}% used", observed)


def memory_check(thresholds: Thresholds = THRESHOLDS) -> CheckResult:
    memory = sample_memory()
    status = by_percent(memory.percent, thresholds.memory_degraded_percent, thresholds.memory_unhealthy_percent)
    return CheckResult("memory", status, f"{memory.percent:.1f}% of memory used",
                       {"total_bytes": memory.total_bytes, "available_bytes": memory.available_bytes,
                        "used_percent": memory.percent})


class CpuCheck:
    """Cpu usage since the previous reading; the health monitor reads it every interval."""

    def __init__(self, thresholds: Thresholds = THRESHOLDS) -> None:
        self._meter = CpuMeter()
        self._thresholds = thresholds
        self._latest: CpuSample | None = None

    def sample(self) -> CpuSample:
        self._latest = self._meter.read()
        return self._latest

    def __call__(self) -> CheckResult:
        sample = self._latest if self._latest is not None else self.sample()
        status = by_percent(sample.percent, self._thresholds.cpu_degraded_percent)
        return CheckResult("cpu", status, f"{sample.percent:.1f}% busy over {sample.interval_seconds:.1f}s",
                           {"percent": round(sample.percent, 2), "count": sample.count,
                            "process_percent": round(sample.process_percent, 2),
                            "interval_seconds": round(sample.interval_seconds, 3)})


def schema_cache_check(status: SchemaCacheStatus, pending: Mapping[str, Sequence[MigrationStep]]) -> CheckResult:
    """UNHEALTHY without a schema; DEGRADED when a schema is stale, from disk or the mock, the
    ontology server is unreachable, a refresh failed, or a migration is pending."""
    observed = {
        "pending_migrations": {table: [step.describe() for step in steps] for table, steps in pending.items()},
        "schemas": {info.schema_id: {"source": info.source.value, "version": info.version,
                                     "age_seconds": info.age_seconds, "last_error": info.last_error}
                    for info in status.schemas},
        "missing": list(status.missing), "ontology_reachable": status.ontology_reachable,
        "circuit_open": status.circuit_open, **status.details,
    }
    if status.missing:
        return CheckResult("schema_cache", Status.UNHEALTHY,
                           "no schema obtained for " + ", ".join(status.missing), observed)
    reasons = status.degraded_reasons + [f"migration pending on table {table} ({len(steps)} step(s))"
                                         for table, steps in pending.items()]
    if reasons:
        return CheckResult("schema_cache", Status.DEGRADED, "; ".join(reasons), observed)
    return CheckResult("schema_cache", Status.HEALTHY, "every schema is fresh from the ontology server", observed)


def safe_url(url: str) -> str:
    """The URL without credentials, query or fragment: safe to show and log."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


class OntologyHealthProbe:
    """`GET {ONTO_SERVER_URL}/health`, the result reused for `cache_seconds`."""

    def __init__(self, base_url: str, *, timeout: float, cache_seconds: float, use_mock: bool,
                 metrics: DomainMetrics) -> None:
        self._url = base_url.rstrip("/") + "/health"
        self._shown_url = safe_url(self._url)
        self._timeout = timeout
        self._cache_seconds = cache_seconds
        self._use_mock = use_mock
        self._metrics = metrics
        self._lock = threading.Lock()
        self._last: tuple[float, CheckResult] | None = None
        self._client = httpx.Client(timeout=timeout, follow_redirects=False) if not use_mock else None

    @property
    def use_mock(self) -> bool:
        return self._use_mock

    def last(self) -> CheckResult | None:
        """The latest result without probing (None before the first probe or with the mock)."""
        return self._last[1] if self._last else None

    def __call__(self) -> CheckResult:
        if self._use_mock:
            return CheckResult("ontology_server", Status.HEALTHY,
                               "USE_MOCK_ONTO_SERVER=true: /health is not probed; the schema_cache check says "
                               "whether the ontology server's schemas or the built-in mock serve", {"mock": True})
        with self._lock:  # one probe at a time; callers meanwhile share its result
            now = time.monotonic()
            if self._last is not None and now - self._last[0] < self._cache_seconds:
                checked_at, result = self._last
                observed = {**result.observed, "checked_seconds_ago": round(now - checked_at, 3)}
                return CheckResult(result.name, result.status, result.message, observed)
            result = self._probe()
            self._last = (time.monotonic(), result)
            return result

    def _probe(self) -> CheckResult:
        assert self._client is not None
        observed: dict[str, object] = {"url": self._shown_url, "mock": False, "checked_seconds_ago": 0.0,
                                       "cache_seconds": self._cache_seconds}
        started = time.monotonic()
        try:
            response = self._client.get(self._url)
        except httpx.TimeoutException:
            outcome, status, message = "timeout", Status.DEGRADED, f"no answer within {self._timeout:g}s"
        except httpx.HTTPError as error:
            outcome, status, message = "unreachable", Status.DEGRADED, f"unreachable: {type(error).__name__}"
        else:
            observed["http_status"] = response.status_code
            if response.is_success:
                outcome, status, message = "ok", Status.HEALTHY, f"/health answered {response.status_code}"
            else:
                outcome, status, message = "http_error", Status.DEGRADED, f"/health answered {response.status_code}"
        elapsed = time.monotonic() - started
        observed["latency_ms"] = round(elapsed * 1000, 3)
        self._metrics.observe_ontology_request("health", outcome, elapsed)
        if status is not Status.HEALTHY:
            message += "; the cached schemas keep serving"
        return CheckResult("ontology_server", status, message, observed)

    def close(self) -> None:
        if self._client is not None:
            self._client.close()


class DatabaseCheck:
    """Does the database answer? One question for the health report (`__call__`) and readiness (`probe`).

    `database` gives the open database, or None while start-up has not opened it yet.
    """

    def __init__(self, path: str, timeout: float, database: Callable[[], Database | None]) -> None:
        self._path = path
        self._timeout = timeout
        self._database = database
        self._probe: DatabaseProbe | None = None

    def __call__(self) -> CheckResult:
        database = self._database()
        if database is None:
            return CheckResult("database", Status.UNHEALTHY, "database not open yet")
        if database.invalidated is not None:
            return CheckResult("database", Status.UNHEALTHY,
                               "DuckDB invalidated the database after a fatal error; writes are refused and "
                               f"liveness fails until a restart: {database.invalidated}", {"path": self._path})
        if self._probe is None:
            self._probe = DatabaseProbe(database)
        result = self._probe.check(self._timeout)
        observed = {"path": self._path, "latency_ms": round(result.seconds * 1000, 3)}
        if not result.ok:
            return CheckResult("database", Status.UNHEALTHY, f"the database cannot answer: {result.error}",
                               observed)
        return CheckResult("database", Status.HEALTHY, "a query answered", observed)

    def probe(self) -> tuple[bool, str]:
        return _as_probe(self())


class SchemaCheck:
    """Is every hosted schema in force (with its table)? The report adds staleness and pending migrations."""

    def __init__(self, schemas: Callable[[], SchemaReadiness | None],
                 tables: Callable[[], PendingMigrations | None]) -> None:
        self._schemas = schemas
        self._tables = tables

    def __call__(self) -> CheckResult:
        schemas = self._schemas()
        if schemas is None:
            return CheckResult("schema_cache", Status.UNHEALTHY, "the schema cache is not started yet")
        tables = self._tables()
        pending = tables.pending_migrations(timeout=1.0) if tables is not None and schemas.ready() else {}
        return schema_cache_check(schemas.status(), pending)

    def probe(self) -> tuple[bool, str]:
        schemas = self._schemas()
        if schemas is None or not schemas.ready():
            return False, "not every hosted schema has loaded"
        return True, ""


class SchemaReadiness(Protocol):
    def ready(self) -> bool: ...

    def status(self) -> SchemaCacheStatus: ...


class PendingMigrations(Protocol):
    def pending_migrations(self, timeout: float | None = None) -> Mapping[str, Sequence[MigrationStep]]: ...


def _as_probe(result: CheckResult) -> tuple[bool, str]:
    healthy_enough = result.status is not Status.UNHEALTHY
    return healthy_enough, "" if healthy_enough else result.message
