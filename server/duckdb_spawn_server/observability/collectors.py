"""Gauges computed at scrape time from live state, so they are never stale.

Each scrape reads the sources afresh: psutil for the host and process, the
pool's and writer's stats, the database files and row counts, the schema
cache's snapshots, readiness and the health checks. A source that fails
(a database that cannot answer) leaves its samples out of that scrape,
while the metric itself (HELP/TYPE) is still announced.

| metric | type | labels |
|---|---|---|
| `duckdb_spawn_build_info` | gauge (1) | version |
| `duckdb_spawn_start_time_seconds` | gauge | |
| `duckdb_spawn_ready` | gauge (1/0) | |
| `duckdb_spawn_health_status` | gauge: 0 healthy, 1 degraded, 2 unhealthy | |
| `duckdb_spawn_health_check_status` | gauge: as above | check |
| `duckdb_spawn_ontology_up` | gauge (1/0), absent with the mock | |
| `duckdb_spawn_rpc_in_flight` | gauge | |
| `duckdb_spawn_system_cpu_percent` | gauge, since the previous scrape | |
| `duckdb_spawn_system_cpu_count` | gauge | |
| `duckdb_spawn_system_memory_total_bytes`, `..._available_bytes` | gauge | |
| `duckdb_spawn_disk_total_bytes`, `duckdb_spawn_disk_free_bytes` | gauge (database volume) | |
| `duckdb_spawn_process_cpu_percent` | gauge, since the previous scrape (100 = one cpu) | |
| `duckdb_spawn_process_threads`, `duckdb_spawn_process_open_files` | gauge | |
| `duckdb_spawn_pool_size`, `_in_use`, `_idle`, `_waiting` | gauge | |
| `duckdb_spawn_pool_acquired_total`, `duckdb_spawn_pool_wait_seconds_total` | counter | |
| `duckdb_spawn_writer_queue_depth`, `..._queue_capacity` | gauge | |
| `duckdb_spawn_writer_groups_committed_total`, `..._ops_committed_total`, `..._ops_failed_total` | counter | |
| `duckdb_spawn_database_file_bytes`, `duckdb_spawn_database_wal_bytes` | gauge | |
| `duckdb_spawn_table_rows` | gauge | table |
| `duckdb_spawn_schema_cache_age_seconds`, `..._stale` | gauge | schema_id |
| `duckdb_spawn_schema_cache_source` | gauge (1 for the source in force) | schema_id, source |
| `duckdb_spawn_schema_cache_refreshes_total` | counter | schema_id |
| `duckdb_spawn_schema_cache_refresh_failures_total`, `..._stale_served_total` | counter | schema_id |
| `duckdb_spawn_change_log_changes`, `duckdb_spawn_change_log_oldest_age_seconds` | gauge | |
| `duckdb_spawn_watchers` | gauge | |
| `duckdb_spawn_changes_delivered_total` | counter | |
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence

from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from .metrics import PREFIX
from .schema_status import SOURCES
from .sources import LiveSources
from .system import CpuMeter, sample_disk, sample_memory, sample_process

log = logging.getLogger(__name__)


def _gauge(name: str, documentation: str, value: float | None = None, labels: Sequence[str] = ()) -> GaugeMetricFamily:
    family = GaugeMetricFamily(f"{PREFIX}_{name}", documentation, labels=list(labels) if labels else None)
    if value is not None:
        family.add_metric([], value)
    return family


def _counter(name: str, documentation: str, value: float | None = None,
             labels: Sequence[str] = ()) -> CounterMetricFamily:
    family = CounterMetricFamily(f"{PREFIX}_{name}", documentation, labels=list(labels) if labels else None)
    if value is not None:
        family.add_metric([], value)
    return family


class ServiceCollector(Collector):
    def __init__(self, sources: LiveSources) -> None:
        self._sources = sources
        self._cpu = CpuMeter()

    def collect(self) -> Iterator[Metric]:
        for section in (self._service, self._system, self._storage, self._schema_cache, self._change_feed):
            try:
                metrics = section()
            except Exception:
                log.warning("metrics section %s failed", section.__name__, exc_info=True)
                continue
            yield from metrics

    def describe(self) -> Iterator[Metric]:
        return iter(())  # metrics appear per scrape; nothing to check for clashes up front

    # -- sections ----------------------------------------------------------------
    def _service(self) -> list[Metric]:
        s = self._sources
        info = _gauge("build_info", "The service's version (always 1).", labels=("version",))
        info.add_metric([s.version], 1)
        ready = _gauge("ready", "1 when readiness (grpc.health.v1, service \"\") is SERVING.", 1 if s.ready() else 0)
        overall = _gauge("health_status", "GetHealth's overall verdict: 0 healthy, 1 degraded, 2 unhealthy.")
        checks = _gauge("health_check_status", "Each GetHealth check's verdict: 0 healthy, 1 degraded, "
                        "2 unhealthy.", labels=("check",))
        up = _gauge("ontology_up", "1 when the ontology server's /health answered 2xx at the last probe; "
                    "absent while the built-in mock is in use.")
        in_flight = _gauge("rpc_in_flight", "RPCs being handled now.", s.rpc_totals().in_flight)
        try:
            report = s.health()
            overall.add_metric([], int(report.status))
            for check in report.checks:
                checks.add_metric([check.name], int(check.status))
        except Exception:
            log.debug("health for metrics failed", exc_info=True)
        ontology = s.ontology_up()
        if ontology is not None:
            up.add_metric([], 1 if ontology else 0)
        start = _gauge("start_time_seconds", "When the service started (Unix time).", s.start_time_seconds)
        return [info, start, ready, overall, checks, up, in_flight]

    def _system(self) -> list[Metric]:
        cpu = self._cpu.read()
        memory = sample_memory()
        disk = sample_disk(self._sources.database_path)
        process = sample_process()
        return [
            _gauge("system_cpu_percent", "System-wide cpu usage in percent since the previous scrape.", cpu.percent),
            _gauge("system_cpu_count", "Logical cpus.", cpu.count),
            _gauge("system_memory_total_bytes", "Physical memory.", memory.total_bytes),
            _gauge("system_memory_available_bytes", "Memory available to new processes.", memory.available_bytes),
            _gauge("disk_total_bytes", "Size of the database volume.", disk.total_bytes),
            _gauge("disk_free_bytes", "Free space on the database volume.", disk.free_bytes),
            _gauge("process_cpu_percent", "This process's cpu usage since the previous scrape (100 = one cpu).",
                   cpu.process_percent),
            _gauge("process_threads", "Threads of this process.", process.threads),
            _gauge("process_open_files", "Regular files this process holds open.", process.open_files),
        ]

    def _storage(self) -> list[Metric]:
        s = self._sources
        pool_size = _gauge("pool_size", "Read connections in the pool.")
        in_use = _gauge("pool_in_use", "Read connections lent out now.")
        idle = _gauge("pool_idle", "Read connections idle now.")
        waiting = _gauge("pool_waiting", "Callers waiting for a read connection now.")
        acquired = _counter("pool_acquired", "Read connections handed out since start.")
        waited = _counter("pool_wait_seconds", "Seconds callers waited for read connections, summed.")
        depth = _gauge("writer_queue_depth", "Writes waiting for the group-commit writer.")
        capacity = _gauge("writer_queue_capacity", "Writes the writer's queue holds before refusing.")
        groups = _counter("writer_groups_committed", "Group transactions committed.")
        committed = _counter("writer_ops_committed", "Writes committed.")
        failed = _counter("writer_ops_failed", "Writes that failed.")
        file_bytes = _gauge("database_file_bytes", "Size of the DuckDB database file.")
        wal_bytes = _gauge("database_wal_bytes", "Size of the DuckDB write-ahead log.")
        rows = _gauge("table_rows", "Rows per hosted table.", labels=("table",))
        pool = s.pool()
        if pool is not None:
            pool_size.add_metric([], pool.size)
            in_use.add_metric([], pool.in_use)
            idle.add_metric([], pool.idle)
            waiting.add_metric([], pool.waiting)
            acquired.add_metric([], pool.acquired_total)
            waited.add_metric([], pool.wait_seconds_total)
        writer = s.writer()
        if writer is not None:
            depth.add_metric([], writer.queue_depth)
            capacity.add_metric([], writer.queue_capacity)
            groups.add_metric([], writer.groups_committed)
            committed.add_metric([], writer.ops_committed)
            failed.add_metric([], writer.ops_failed)
        files = s.files()
        if files is not None:
            file_bytes.add_metric([], files.file_bytes)
            wal_bytes.add_metric([], files.wal_bytes)
        try:
            for table, count in sorted(s.table_rows().items()):
                rows.add_metric([table], count)
        except Exception:
            log.debug("row counts for metrics failed", exc_info=True)
        return [pool_size, in_use, idle, waiting, acquired, waited, depth, capacity, groups, committed, failed,
                file_bytes, wal_bytes, rows]

    def _change_feed(self) -> list[Metric]:
        size = _gauge("change_log_changes", "Changes the change log retains (as of its last retention pass, plus "
                      "this replica's since).")
        age = _gauge("change_log_oldest_age_seconds", "Age of the oldest change the log retains (0: empty).")
        watchers = _gauge("watchers", "WatchProjects streams open now.")
        delivered = _counter("changes_delivered", "Changes sent to WatchProjects streams since start.")
        figures = self._sources.change_feed()
        if figures is not None:
            size.add_metric([], figures.log_size)
            age.add_metric([], figures.oldest_age_seconds)
            watchers.add_metric([], figures.watchers)
            delivered.add_metric([], figures.delivered)
        return [size, age, watchers, delivered]

    def _schema_cache(self) -> list[Metric]:
        labels = ("schema_id",)
        age = _gauge("schema_cache_age_seconds", "Seconds since the schema in force was fetched or revalidated.",
                     labels=labels)
        stale = _gauge("schema_cache_stale", "1 while a stale schema is served (revalidation failing).",
                       labels=labels)
        source = _gauge("schema_cache_source", "1 for the source of the schema in force (ontology_server, disk, "
                        "mock), 0 for the others.", labels=("schema_id", "source"))
        refreshes = _counter("schema_cache_refreshes", "Schema refresh attempts.", labels=labels)
        failures = _counter("schema_cache_refresh_failures", "Schema refreshes that failed.", labels=labels)
        stale_served = _counter("schema_cache_stale_served", "Times a stale schema was served.", labels=labels)
        for snapshot in self._sources.schema_cache():
            sid = [snapshot.schema_id]
            age.add_metric(sid, snapshot.age_seconds)
            stale.add_metric(sid, 1 if snapshot.stale else 0)
            for name in SOURCES:
                source.add_metric([snapshot.schema_id, name], 1 if snapshot.source == name else 0)
            refreshes.add_metric(sid, snapshot.refreshes)
            failures.add_metric(sid, snapshot.refresh_failures)
            stale_served.add_metric(sid, snapshot.stale_served)
        return [age, stale, source, refreshes, failures, stale_served]
