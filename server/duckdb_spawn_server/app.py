"""The composition root: builds every component from Settings, starts and stops them.

Start-up order matters for probes: the gRPC server (with health, and the
plaintext health-only server when HEALTH_PORT is set) starts first and
reports NOT_SERVING; the database is opened (retried while another
process still holds the file), the writer started, the hosted schemas
obtained (ontology server, else the last-known-good copy on disk, else the
mock if enabled) with their tables created, and only then does readiness
turn SERVING. With the mock disabled and no schema obtainable, readiness
stays NOT_SERVING until the ontology server answers. Shutdown reverses it: readiness
NOT_SERVING, a drain period, `server.stop(grace)` for in-flight calls (the
health-only server stops after it, so probes see NOT_SERVING throughout), the
writer commits what it holds, DuckDB is checkpointed and closed.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import grpc
from prometheus_client import GCCollector, PlatformCollector, ProcessCollector

from . import __version__
from .api.access_policy import AccessPolicy
from .api.admin_servicer import AdminServicer
from .api.admission import Admission
from .api.auth import Authenticator, CallGuard
from .api.drain import DrainGate
from .api.health_servicer import HealthServicer
from .api.monitoring_servicer import MonitoringServicer
from .api.offload import Offloader
from .api.pipeline import CallPipeline, PipelineSettings
from .api.project_servicer import ProjectServicer, WatchSettings
from .api.server import (
    OWN_SERVICES,
    SERVICE_DESCRIPTORS,
    GrpcRuntime,
    ServerOptions,
    Servicers,
    build_health_server,
    build_server,
)
from .api.watch import WatchHub
from .api.wire import ProjectWire
from .config import Settings
from .deferred import Deferred
from .domain.changes import ChangeFeed
from .domain.idempotency import Idempotency
from .domain.projects import ProjectManager
from .domain.table_admin import TableAdmin
from .observability.audit import AuditLog
from .observability.checks import HealthReporter, Status
from .observability.collectors import ServiceCollector
from .observability.health import HealthState
from .observability.health_checks import (
    CpuCheck,
    DatabaseCheck,
    OntologyHealthProbe,
    SchemaCheck,
    disk_check,
    memory_check,
)
from .observability.log_level import LogLevelControl
from .observability.metrics import ServiceMetrics
from .observability.metrics_http import MetricsHttpServer
from .observability.monitor import HealthMonitor
from .observability.schema_metrics import SchemaMetrics
from .observability.schema_status import snapshots_of
from .observability.sources import ChangeFeedFigures, LiveSources
from .observability.system_metrics import SystemMetricsSampler
from .ontology.cache import CacheSettings, SchemaCache
from .ontology.client import OntologyClient
from .ontology.disk_copy import DiskCopies
from .ontology.formats import parse_schema_text
from .security.setup import build_security
from .storage.change_log import Retention
from .storage.database import Database, DatabaseError, DatabaseSettings
from .storage.disk_guard import DiskSpaceGuard
from .storage.duckdb_storage import ChangeLogSettings, DuckDBStorage, WriterSettings
from .storage.lake import LakeSettings, S3Settings
from .storage.memory_limit import default_memory_limit
from .storage.probe import database_files, table_row_counts
from .storage.record_cache import RecordCache

log = logging.getLogger(__name__)


class Application:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.start_time = datetime.now(UTC)
        self._start_monotonic = time.monotonic()
        self._stopping = threading.Event()
        self.failed = threading.Event()  # set when start-up cannot complete
        self._ready_lock = threading.Lock()
        self._ready_announced = False
        self.health = HealthState(OWN_SERVICES)
        self.drain_gate = DrainGate()
        self.storage: DuckDBStorage | None = None
        in_memory = settings.duckdb_path == ":memory:"
        database_file = None if in_memory else Path(settings.duckdb_path).expanduser().absolute()
        self.disk_guard = DiskSpaceGuard(None if database_file is None else database_file.parent,
                                         settings.disk_free_reserve,
                                         wal=None if database_file is None else Path(f"{database_file}.wal"))
        self.projects: Deferred[ProjectManager] = Deferred("the project store")
        self.tables: Deferred[TableAdmin] = Deferred("the table store")
        self.schemas: Deferred[SchemaCache] = Deferred("the schema cache")
        # Observability: one registry per Application (several may share a process in tests).
        self.metrics = ServiceMetrics()
        self.schema_metrics = SchemaMetrics(self.metrics.registry, requests=self.metrics.domain)
        self.ontology_probe = OntologyHealthProbe(
            settings.onto_server_url, timeout=min(settings.onto_server_timeout, 2.0),
            cache_seconds=settings.onto_health_cache_seconds, use_mock=settings.use_mock_onto_server,
            metrics=self.metrics.domain)
        self._cpu_check = CpuCheck()
        self.database_check = DatabaseCheck(
            str(settings.duckdb_path), settings.health_database_timeout,
            lambda: self.storage.database if self.storage is not None else None)
        self.schema_check = SchemaCheck(self.schemas.peek, self.tables.peek)
        self.reporter = HealthReporter(
            [("database", self.database_check), ("ontology_server", self.ontology_probe),
             ("schema_cache", self.schema_check),
             ("disk", lambda: disk_check(settings.duckdb_path, self.disk_guard.reserve_bytes,
                                         self.disk_guard.state().wal_bytes)),
             ("memory", memory_check), ("cpu", self._cpu_check)],
            __version__, self.start_time, self._start_monotonic)
        self.security = build_security(settings)
        self.live = self._live_sources()
        # Another replica's writes never reach this cache: a lake is read afresh every time.
        self.record_cache = RecordCache(settings.read_cache_entries if settings.storage_backend == "file" else 0)
        self.runtime = GrpcRuntime()
        self.offload = Offloader(settings.grpc_max_workers, settings.query_timeout, self.runtime.completions)
        security = self.security
        self.admission = Admission(settings.grpc_max_concurrent_rpcs, settings.grpc_max_concurrent_streams,
                                   settings.max_watchers)
        guard = CallGuard(Authenticator(security.tokens, anonymous_role=security.anonymous_role,
                                        certificate_roles=security.certificate_roles),
                          AccessPolicy(security.reflection_access), AuditLog(), security.rate_limiter)
        self.pipeline = CallPipeline(
            admission=self.admission, drain=self.drain_gate, guard=guard, metrics=self.metrics.grpc,
            settings=PipelineSettings(max_message_bytes=settings.grpc_max_message_bytes,
                                      stream_idle_timeout=settings.stream_idle_timeout))
        lake = settings.storage_backend != "file"
        self.watch_hub = WatchHub(self.runtime.loop, poll_interval=settings.watch_poll_interval if lake else None)
        watch = WatchSettings(self.watch_hub if settings.change_log else None, settings.watch_progress_interval)
        servicers = Servicers(
            projects=ProjectServicer(self.projects, self.tables, self.offload, ProjectWire(), watch),
            admin=AdminServicer(self.tables, self.schemas, LogLevelControl(), self.offload),
            monitoring=MonitoringServicer(self.reporter, SystemMetricsSampler(self.live), self.offload),
            health=HealthServicer(self.health))
        options = ServerOptions(settings.grpc_host, settings.grpc_port, settings.grpc_max_concurrent_rpcs,
                                max_message_bytes=settings.grpc_max_message_bytes, tls=security.tls,
                                reflection=security.reflection_enabled)
        async def build() -> tuple[grpc.aio.Server, int, grpc.aio.Server | None, int | None]:
            server, port = build_server(options, servicers, self.pipeline)
            if not settings.health_port:
                return server, port, None, None
            # HEALTH_PORT: the same health answers in plaintext, for kubelet probes when the main port is TLS.
            health_server, health_port = build_health_server(settings.grpc_host, settings.health_port,
                                                             servicers.health, self.pipeline)
            return server, port, health_server, health_port

        try:
            self.server, self.grpc_port, self._health_server, self.health_port = self.runtime.call(build())
        except BaseException:
            self.runtime.close()
            raise
        self.metrics.grpc.preinitialize(SERVICE_DESCRIPTORS)
        for collector in (ProcessCollector, PlatformCollector, GCCollector):
            collector(registry=self.metrics.registry)
        self.metrics.registry.register(ServiceCollector(self.live))
        self.metrics_port: int | None = None
        self._metrics_server: MetricsHttpServer | None = None
        self._monitor: HealthMonitor | None = None
        self._initializer = threading.Thread(target=self._initialize, name="startup", daemon=True)

    # -- lifecycle --------------------------------------------------------------
    def start(self) -> None:
        """Starts serving (NOT_SERVING) and initialises in the background."""
        self.runtime.call(self.server.start())
        if self._health_server is not None:
            self.runtime.call(self._health_server.start())
        if self.settings.metrics_enabled:
            self._metrics_server = MetricsHttpServer(self.metrics.registry, self.settings.grpc_host,
                                                     self.settings.metrics_port)
            self._metrics_server.start()
            self.metrics_port = self._metrics_server.port
        log.info("serving", extra={"grpc_port": self.grpc_port, "metrics_port": self.metrics_port,
                                   "health_port": self.health_port,
                                   "version": __version__, "tls": self.security.tls is not None,
                                   "mutual_tls": self.security.tls is not None and self.security.tls.mutual})
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
        """Drains, then stops everything; calls still running after the grace period get UNAVAILABLE."""
        drain = self.settings.shutdown_drain_seconds if drain_seconds is None else drain_seconds
        grace = self.settings.shutdown_grace_seconds if grace_seconds is None else grace_seconds
        log.info("draining", extra={"drain_seconds": drain, "grace_seconds": grace})
        self._stopping.set()
        self.health.start_draining()
        time.sleep(drain)  # let load balancers see NOT_SERVING and stop sending
        self.drain_gate.close()  # stragglers get UNAVAILABLE; running calls go on
        self.runtime.loop.call_soon_threadsafe(self.watch_hub.close)  # watchers resume on another replica
        started = time.monotonic()
        if not self.runtime.call(self.drain_gate.wait_idle(grace)):
            log.warning("grace period over with calls still in flight; answering them UNAVAILABLE",
                        extra={"in_flight": self.drain_gate.in_flight})
            if self.storage is not None:  # writes already queued commit, so their callers hear OK, not a refusal
                self.storage.writer.stop(timeout=5.0)
            self.runtime.call(self.drain_gate.cancel_running(settle=2.0))
        left = max(0.0, grace - (time.monotonic() - started))
        self.runtime.call(self.drain_gate.wait_quiet(quiet=0.25, timeout=min(left, 2.0)))
        self.runtime.call(self.server.stop(1.0))
        if self._health_server is not None:  # answered NOT_SERVING through the whole drain
            self.runtime.call(self._health_server.stop(0))
        self._initializer.join(timeout=5)
        if self._monitor is not None:
            self._monitor.stop()
        schemas = self.schemas.peek()
        if schemas is not None:
            schemas.stop()
        self.offload.shutdown()
        if self.storage is not None:
            self.storage.close()
        if self._metrics_server is not None:
            self._metrics_server.stop()
        self.ontology_probe.close()
        self.runtime.close()
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
        database.on_invalidated(self._database_invalidated)
        storage = self.storage = DuckDBStorage.build(
            database, pool_size=s.duckdb_pool_size, guard=self.disk_guard, cache=self.record_cache,
            writer=WriterSettings(s.write_queue_size, s.write_group_max, s.write_group_delay_ms / 1000),
            change_log=ChangeLogSettings(Retention(s.change_retention, s.change_retention_count),
                                         s.change_compaction_interval) if s.change_log else None)
        feed = None
        if storage.changes is not None:
            feed = ChangeFeed(storage.changes)
            storage.changes.change_log.add_listener(self.watch_hub.committed)
            self.watch_hub.follow(storage.changes.latest_position)
        schemas = SchemaCache(
            s.onto_schema_ids, OntologyClient(s.onto_server_url, s.onto_server_timeout),
            DiskCopies.beside(s.duckdb_path), CacheSettings(ttl=s.onto_cache_ttl, use_mock=s.use_mock_onto_server),
            self.schema_metrics)
        tables = TableAdmin(schemas, storage.tables, s.onto_schema_ids, parse_schema=parse_schema_text,
                            auto_migrate=s.auto_migrate == "additive", metrics=self.schema_metrics)
        schemas.set_swap_hook(tables.prepare)  # the table is created or migrated before its schema is in force
        schemas.add_listener(self._update_readiness)
        schemas.add_listener(lambda: self.metrics.domain.initialize_tables(  # per-table series from zero
            info.schema.table_name for info in schemas.status().schemas))
        self.schema_metrics.watch_cache(schemas.status)
        self.schemas.set(schemas)
        self.tables.set(tables)
        store = storage.projects
        retention = timedelta(seconds=s.request_id_retention_seconds)
        self.projects.set(ProjectManager(schemas, store, idempotency=Idempotency(store, retention),
                                         metrics=self.metrics.domain, limits=self.security.limits, changes=feed))
        self._monitor = HealthMonitor(
            self.health, [("database", self.database_check.probe), ("schema", self.schema_check.probe)],
            s.health_probe_interval, samplers=[self._cpu_check.sample, self._refresh_ontology_probe])
        schemas.start()
        self._update_readiness()
        if not schemas.ready():
            log.error("no schema could be obtained and the mock is disabled; not ready until the ontology "
                      "server answers", extra={"missing": ",".join(schemas.status().missing)})

    def _update_readiness(self) -> None:
        """Ready once the database is open and every hosted schema is in force (with its table).

        Called after start-up and after every schema swap; it acts once. From then on the
        health monitor keeps readiness truthful (database answering, schemas loaded).
        """
        schemas = self.schemas.peek()
        if self.storage is None or schemas is None or not schemas.ready() or self._monitor is None:
            return
        with self._ready_lock:
            if self._stopping.is_set() or self._ready_announced:
                return
            self._ready_announced = True
        self._monitor.run_once()
        self.health.set_ready(True)
        self._monitor.start()
        log.info("ready")

    def _open_database(self) -> Database | None:
        """Opens DuckDB, retrying with backoff while the file is held by another process."""
        delay = 0.1
        settings = DatabaseSettings(self.settings.duckdb_path, self.settings.duckdb_threads or None,
                                    self.settings.duckdb_memory_limit or default_memory_limit(),
                                    checkpoint_threshold(self.settings.disk_free_reserve), lake_settings(self.settings))
        while not self._stopping.is_set():
            try:
                return Database(settings)
            except DatabaseError as error:
                log.warning("database not available yet, retrying", extra={"error": str(error)[:300]})
                self._stopping.wait(delay)
                delay = min(delay * 2, 5.0)
        return None

    def _database_invalidated(self, reason: str) -> None:
        """DuckDB gave up on the instance: not ready, not alive, so Kubernetes restarts the pod."""
        self.health.fail_liveness("database", f"the database was invalidated: {reason}")

    # -- health checks and live state ------------------------------------------------
    def _schema_snapshots(self) -> list:  # type: ignore[type-arg]
        schemas = self.schemas.peek()
        return snapshots_of(schemas.status()) if schemas is not None else []

    def _refresh_ontology_probe(self) -> None:
        if not self.ontology_probe.use_mock:
            self.ontology_probe()

    def _ontology_up(self) -> bool | None:
        last = self.ontology_probe.last()
        return None if last is None else last.status is Status.HEALTHY

    def _table_rows(self) -> dict[str, int]:
        tables = self.tables.peek()
        if self.storage is None or tables is None:
            return {}
        names = [schema.table_name for schema in tables.hosted(timeout=1.0)]
        return table_row_counts(self.storage.pool, names, timeout=1.0)

    def _live_sources(self) -> LiveSources:
        def storage_part(read):  # type: ignore[no-untyped-def]
            return lambda: read(self.storage) if self.storage is not None else None

        return LiveSources(
            version=__version__,
            start_time_seconds=self.start_time.timestamp(),
            database_path=self.settings.duckdb_path,
            ready=lambda: self.health.ready,
            health=self.reporter.report,
            ontology_up=self._ontology_up,
            rpc_totals=self.metrics.grpc.totals,
            pool=storage_part(lambda st: st.pool.stats()),
            writer=storage_part(lambda st: st.writer.stats()),
            files=storage_part(lambda st: database_files(st.database)),
            table_rows=self._table_rows,
            schema_cache=self._schema_snapshots,
            change_feed=self._change_feed_figures,
        )

    def _change_feed_figures(self) -> ChangeFeedFigures | None:
        retention = self.storage.retention if self.storage is not None else None
        if retention is None:
            return None
        figures = retention.figures()
        return ChangeFeedFigures(figures.size, figures.oldest_age_seconds, self.watch_hub.connected,
                                 self.watch_hub.delivered)


def checkpoint_threshold(reserve_bytes: int) -> int | None:
    """DuckDB's WAL checkpoint threshold for a free-space reserve: a quarter of it, 256KiB to 16MiB.

    A checkpoint writes the WAL's content into the database file before it
    frees anything, so the WAL must stay well inside the reserve the disk
    guard keeps. None (DuckDB's own 16MiB) when there is no reserve.
    """
    if reserve_bytes <= 0:
        return None
    return max(256 * 1024, min(16 * 1024 * 1024, reserve_bytes // 4))


def lake_settings(settings: Settings) -> LakeSettings | None:
    if settings.storage_backend != "ducklake":
        return None
    s3 = S3Settings(settings.lake_s3_endpoint, settings.lake_s3_region, settings.lake_s3_access_key_id,
                    settings.lake_s3_secret_access_key, settings.lake_s3_url_style, settings.lake_s3_use_ssl)
    return LakeSettings(settings.lake_catalog, settings.lake_data_path, settings.lake_metadata_schema, s3,
                        settings.lake_maintenance_interval, settings.lake_snapshot_retention)
