"""The composition root: builds every component from Settings, starts and stops them.

Start-up order matters for probes: the gRPC server (with health) starts
first and reports NOT_SERVING; the database is opened (retried while another
process still holds the file), the writer started, the hosted schemas
obtained (ontology server, else the last-known-good copy on disk, else the
mock if enabled) with their tables created, and only then does readiness
turn SERVING. With the mock disabled and no schema obtainable, readiness
stays NOT_SERVING until the ontology server answers. Shutdown reverses it: readiness
NOT_SERVING, a drain period, `server.stop(grace)` for in-flight calls, the
writer commits what it holds, DuckDB is checkpointed and closed.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime

import grpc
from prometheus_client import CollectorRegistry, GCCollector, PlatformCollector, ProcessCollector, start_http_server

from . import __version__
from .api.admin_servicer import AdminServicer
from .api.drain import DrainGate
from .api.interceptors import ErrorInterceptor
from .api.monitoring_servicer import MonitoringServicer
from .api.project_servicer import ProjectServicer
from .api.server import OWN_SERVICES, ServerOptions, Servicers, build_server
from .config import Settings
from .deferred import Deferred
from .domain.migration import MigrationStep
from .domain.projects import ProjectManager
from .domain.schema_registry import SchemaCacheStatus
from .domain.table_admin import TableAdmin
from .observability.checks import CheckResult, HealthReporter, Status
from .observability.health import HealthState
from .observability.log_level import LogLevelControl
from .observability.schema_metrics import SchemaMetrics
from .ontology.cache import CacheSettings, SchemaCache
from .ontology.client import OntologyClient
from .ontology.disk_copy import DiskCopies
from .ontology.formats import parse_schema_text
from .storage.database import Database, DatabaseError, DatabaseSettings
from .storage.layouts import TableLayouts
from .storage.pool import ConnectionPool
from .storage.project_store import DuckDBProjectStore
from .storage.tables import TableStore
from .storage.writer import GroupCommitWriter

log = logging.getLogger(__name__)


@dataclass
class Storage:
    database: Database
    pool: ConnectionPool
    writer: GroupCommitWriter


class Application:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.start_time = datetime.now(UTC)
        self._start_monotonic = time.monotonic()
        self._stopping = threading.Event()
        self.failed = threading.Event()  # set when start-up cannot complete
        self.health = HealthState(OWN_SERVICES)
        self.drain_gate = DrainGate()
        self.storage: Storage | None = None
        self.projects: Deferred[ProjectManager] = Deferred("the project store")
        self.tables: Deferred[TableAdmin] = Deferred("the table store")
        self.schemas: Deferred[SchemaCache] = Deferred("the schema cache")
        # One registry per application, so several servers can run in one (test) process.
        self.metrics_registry = CollectorRegistry()
        for collector in (ProcessCollector, PlatformCollector, GCCollector):
            collector(registry=self.metrics_registry)
        self.schema_metrics = SchemaMetrics(self.metrics_registry)
        self.reporter = HealthReporter(
            [("database", self._check_database), ("schema_cache", self._check_schemas)],
            __version__, self.start_time, self._start_monotonic)
        self.server, self.grpc_port = build_server(
            ServerOptions(settings.grpc_host, settings.grpc_port, settings.grpc_max_workers,
                          settings.grpc_max_concurrent_rpcs),
            Servicers(projects=ProjectServicer(self.projects, self.tables),
                      admin=AdminServicer(self.tables, self.schemas, LogLevelControl()),
                      monitoring=MonitoringServicer(self.reporter),
                      health=self.health.servicer),
            interceptors=[ErrorInterceptor(), self.drain_gate],
        )
        self.metrics_port: int | None = None
        self._metrics_server = None
        self._initializer = threading.Thread(target=self._initialize, name="startup", daemon=True)

    # -- lifecycle --------------------------------------------------------------
    def start(self) -> None:
        """Starts serving (NOT_SERVING) and initialises in the background."""
        self.server.start()
        if self.settings.metrics_enabled:
            self._metrics_server, _ = start_http_server(self.settings.metrics_port, addr=self.settings.grpc_host,
                                                        registry=self.metrics_registry)
            self.metrics_port = self._metrics_server.server_port
        log.info("serving", extra={"grpc_port": self.grpc_port, "metrics_port": self.metrics_port,
                                   "version": __version__})
        self._initializer.start()

    def wait_ready(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.health.ready:
                return True
            if not self._initializer.is_alive() and not self.health.ready:
                return False
            time.sleep(0.01)
        return self.health.ready

    def stop(self, drain_seconds: float | None = None, grace_seconds: float | None = None) -> None:
        drain = self.settings.shutdown_drain_seconds if drain_seconds is None else drain_seconds
        grace = self.settings.shutdown_grace_seconds if grace_seconds is None else grace_seconds
        log.info("draining", extra={"drain_seconds": drain, "grace_seconds": grace})
        self._stopping.set()
        self.health.start_draining()
        time.sleep(drain)  # let load balancers see NOT_SERVING and stop sending
        self.drain_gate.close()  # stragglers get UNAVAILABLE; running calls go on
        started = time.monotonic()
        if not self.drain_gate.wait_idle(grace):
            log.warning("grace period over with calls still in flight; cancelling them",
                        extra={"in_flight": self.drain_gate.in_flight})
        self.server.stop(max(0.0, grace - (time.monotonic() - started))).wait()
        self._initializer.join(timeout=5)
        schemas = self.schemas.peek()
        if schemas is not None:
            schemas.stop()
        if self.storage is not None:
            self.storage.writer.stop()
            self.storage.pool.close()
            self.storage.database.checkpoint_and_close()
        if self._metrics_server is not None:
            self._metrics_server.shutdown()
        log.info("stopped")

    def _initialize(self) -> None:
        try:
            self._build_components()
        except Exception:
            log.exception("start-up failed")
            self.failed.set()

    def _build_components(self) -> None:
        database = self._open_database()
        if database is None:
            return
        s = self.settings
        writer = GroupCommitWriter(database, queue_size=s.write_queue_size, max_group=s.write_group_max)
        writer.start()
        pool = ConnectionPool(database, s.duckdb_pool_size)
        self.storage = Storage(database, pool, writer)
        layouts = TableLayouts(pool)  # one instance: every DDL publishes the new layout to it
        table_store = TableStore(pool, writer, layouts)
        table_store.ensure_catalog()
        schemas = SchemaCache(
            s.onto_schema_ids, OntologyClient(s.onto_server_url, s.onto_server_timeout),
            DiskCopies.beside(s.duckdb_path), CacheSettings(ttl=s.onto_cache_ttl, use_mock=s.use_mock_onto_server),
            self.schema_metrics)
        tables = TableAdmin(schemas, table_store, s.onto_schema_ids, parse_schema=parse_schema_text,
                            auto_migrate=s.auto_migrate == "additive", metrics=self.schema_metrics)
        schemas.set_swap_hook(tables.prepare)  # the table is created or migrated before its schema is in force
        schemas.add_listener(self._update_readiness)
        self.schema_metrics.watch_cache(schemas.status)
        self.schemas.set(schemas)
        self.tables.set(tables)
        self.projects.set(ProjectManager(schemas, DuckDBProjectStore(pool, writer, layouts)))
        schemas.start()
        self._update_readiness()
        if not schemas.ready():
            log.error("no schema could be obtained and the mock is disabled; not ready until the ontology "
                      "server answers", extra={"missing": ",".join(schemas.status().missing)})

    def _update_readiness(self) -> None:
        """Ready once the database is open and every hosted schema is in force (with its table)."""
        schemas = self.schemas.peek()
        if self.storage is None or schemas is None or not schemas.ready() or self.health.ready:
            return
        if self._stopping.is_set():
            return
        self.health.set_ready(True)
        log.info("ready")

    def _open_database(self) -> Database | None:
        """Opens DuckDB, retrying with backoff while the file is held by another process."""
        delay = 0.1
        settings = DatabaseSettings(self.settings.duckdb_path, self.settings.duckdb_threads or None,
                                    self.settings.duckdb_memory_limit or None)
        while not self._stopping.is_set():
            try:
                return Database(settings)
            except DatabaseError as error:
                log.warning("database not available yet, retrying", extra={"error": str(error)[:300]})
                self._stopping.wait(delay)
                delay = min(delay * 2, 5.0)
        return None

    # -- health checks ------------------------------------------------------------
    def _check_database(self) -> CheckResult:
        if self.storage is None:
            return CheckResult("database", Status.UNHEALTHY, "database not open yet")
        with self.storage.pool.connection(timeout=1.0) as con:
            con.execute("SELECT 1").fetchone()
        return CheckResult("database", Status.HEALTHY, "query answered",
                           {"path": str(self.storage.database.path)})

    def _check_schemas(self) -> CheckResult:
        schemas = self.schemas.peek()
        if schemas is None:
            return CheckResult("schema_cache", Status.UNHEALTHY, "the schema cache is not started yet")
        tables = self.tables.peek()
        pending = tables.pending_migrations(timeout=1.0) if tables is not None and schemas.ready() else {}
        return schema_cache_check(schemas.status(), pending)


def schema_cache_check(status: SchemaCacheStatus, pending: dict[str, list[MigrationStep]]) -> CheckResult:
    """UNHEALTHY without a schema; DEGRADED when stale, from disk or mock, the ontology is down,
    or a migration is pending."""
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


def grpc_channel_target(app: Application) -> str:
    return f"127.0.0.1:{app.grpc_port}"


__all__ = ["Application", "grpc", "grpc_channel_target"]
