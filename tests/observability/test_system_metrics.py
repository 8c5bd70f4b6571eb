"""GetSystemMetrics and the scrape-time gauges report live values."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import grpc
import httpx
import psutil
import pytest
from duckdb_spawn.v1 import monitoring_service_pb2 as mpb
from duckdb_spawn.v1 import project_service_pb2 as pb
from google.protobuf import duration_pb2

from tests.support.metrics import exported_names, scrape, value
from tests.support.rpc import call_error, create_request
from tests.support.servers import in_process_server


def test_get_system_metrics_reports_host_process_database_and_rpcs(tmp_path: Path) -> None:
    db_path = tmp_path / "data" / "s.duckdb"
    with in_process_server(db_path) as (_, stubs):
        for i in range(3):
            stubs.projects.CreateProject(create_request(project_name=f"s{i}"))
        call_error(stubs.projects.GetProject, pb.GetProjectRequest(name="projects/not-a-uuid"))

        metrics = stubs.monitoring.GetSystemMetrics(
            mpb.GetSystemMetricsRequest(cpu_interval=duration_pb2.Duration(nanos=200_000_000)))

        assert metrics.sample_time.seconds > 0
        assert metrics.cpu.count == psutil.cpu_count()
        assert 0 <= metrics.cpu.percent <= 100 and metrics.cpu.process_percent >= 0
        assert metrics.memory.total_bytes == psutil.virtual_memory().total
        assert 0 < metrics.memory.available_bytes <= metrics.memory.total_bytes
        assert metrics.disk.path == str(db_path.parent.resolve())
        assert 0 < metrics.disk.free_bytes <= metrics.disk.total_bytes
        assert metrics.process.pid == os.getpid()  # the in-process server
        assert metrics.process.rss_bytes > 0 and metrics.process.threads > 1
        assert metrics.database.path == str(db_path)
        assert metrics.database.file_size_bytes == db_path.stat().st_size
        wal = Path(str(db_path) + ".wal")
        assert metrics.database.wal_size_bytes == (wal.stat().st_size if wal.exists() else 0)
        assert [(t.table, t.row_count) for t in metrics.database.tables] == [("tables/projects", 3)]
        assert metrics.database.pool_in_use + metrics.database.pool_idle == 8
        assert metrics.database.pool_waiting == 0
        assert metrics.rpc.failed_total == 1
        assert metrics.rpc.in_flight >= 1  # this very call
        assert metrics.rpc.started_total == metrics.rpc.handled_total + metrics.rpc.in_flight
        assert metrics.rpc.handled_total == 4


def test_cpu_interval_is_validated(tmp_path: Path) -> None:
    with in_process_server(tmp_path / "v.duckdb") as (_, stubs):
        for interval in (duration_pb2.Duration(seconds=3), duration_pb2.Duration(seconds=-1),
                         duration_pb2.Duration()):
            error = call_error(stubs.monitoring.GetSystemMetrics, mpb.GetSystemMetricsRequest(cpu_interval=interval))
            assert error.code == grpc.StatusCode.INVALID_ARGUMENT
            assert error.violations == {"cpu_interval": "INVALID_CPU_INTERVAL"}
            assert error.error_info.reason == "INVALID_CPU_INTERVAL"
        assert stubs.monitoring.GetSystemMetrics(mpb.GetSystemMetricsRequest()).cpu.count >= 1


def test_a_cpu_interval_that_is_no_valid_duration_is_refused_as_protobuf_says(tmp_path: Path) -> None:
    with in_process_server(tmp_path / "d.duckdb") as (_, stubs):
        # Decodable, but not Durations (duration.proto): ToNanoseconds() read them as 1.999999999 s
        # and 0.999999999 s, inside the allowed range, and the call went ahead.
        for interval in (duration_pb2.Duration(nanos=1_999_999_999), duration_pb2.Duration(seconds=1, nanos=-1),
                         duration_pb2.Duration(seconds=-1, nanos=1), duration_pb2.Duration(nanos=-1_000_000_000),
                         duration_pb2.Duration(seconds=315_576_000_001)):
            error = call_error(stubs.monitoring.GetSystemMetrics, mpb.GetSystemMetricsRequest(cpu_interval=interval),
                               timeout=10)
            assert error.code == grpc.StatusCode.INVALID_ARGUMENT, interval
            assert error.violations == {"cpu_interval": "INVALID_DURATION"}, interval
            assert error.error_info.reason == "INVALID_DURATION"
            assert error.error_info.metadata["field"] == "cpu_interval"
            assert "not a valid google.protobuf.Duration" in error.message
        # A valid Duration outside the allowed range is still the range's error, not the format's.
        error = call_error(stubs.monitoring.GetSystemMetrics, mpb.GetSystemMetricsRequest(
            cpu_interval=duration_pb2.Duration(seconds=-1, nanos=-5)))
        assert error.violations == {"cpu_interval": "INVALID_CPU_INTERVAL"}
        for interval in (duration_pb2.Duration(nanos=50_000_000), duration_pb2.Duration(seconds=0, nanos=999_999)):
            metrics = stubs.monitoring.GetSystemMetrics(mpb.GetSystemMetricsRequest(cpu_interval=interval), timeout=10)
            assert metrics.cpu.count == psutil.cpu_count()


def test_gauges_are_computed_at_scrape_time(tmp_path: Path) -> None:
    with in_process_server(tmp_path / "g.duckdb") as (server, stubs):
        port = server.app.metrics_port
        before = scrape(port)
        assert value(before, "duckdb_spawn_table_rows", table="projects") == 0
        assert value(before, "duckdb_spawn_ready") == 1
        assert value(before, "duckdb_spawn_schema_cache_source", schema_id="project_schema", source="mock") == 1
        assert value(before, "duckdb_table_operations_total", operation="create", status="success") == 1
        assert value(before, "duckdb_spawn_pool_size") == 8
        assert value(before, "duckdb_spawn_disk_free_bytes") > 0
        assert value(before, "process_resident_memory_bytes") > 0
        assert value(before, "duckdb_spawn_ontology_up") is None  # the mock is in use

        stubs.projects.CreateProject(create_request())
        after = scrape(port)
        # No refresh cycle in between: the next scrape already sees the new row and the committed write.
        assert value(after, "duckdb_spawn_table_rows", table="projects") == 1
        assert value(after, "duckdb_spawn_writer_ops_committed_total") > value(before,
                                                                                 "duckdb_spawn_writer_ops_committed_total")
        assert value(after, "duckdb_spawn_schema_cache_age_seconds", schema_id="project_schema") > value(
            before, "duckdb_spawn_schema_cache_age_seconds", schema_id="project_schema")

        names = exported_names(port)
        for documented in ("duckdb_spawn_ontology_requests_total", "duckdb_spawn_ontology_request_seconds_bucket",
                           "duckdb_spawn_rows_imported_total", "duckdb_spawn_rows_exported_total",
                           "duckdb_spawn_schema_cache_refreshes_total", "duckdb_spawn_schema_cache_stale_served_total",
                           "duckdb_spawn_schema_cache_refresh_failures_total", "duckdb_spawn_health_status"):
            assert documented in names


def test_the_metrics_server_stops_with_the_application(tmp_path: Path) -> None:
    with in_process_server(tmp_path / "p.duckdb") as (server, _):
        port = server.app.metrics_port
        assert "grpc_server_started_total" in exported_names(port)
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5)
    with socket.socket() as again:  # and the port can be bound again, as a restarted server would
        again.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        again.bind(("127.0.0.1", port))
