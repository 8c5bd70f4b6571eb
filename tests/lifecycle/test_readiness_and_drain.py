"""Readiness before the database is ready and after SIGTERM; a clean drain under load."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import grpc
from duckdb_spawn.v1 import project_service_pb2 as pb
from grpc_health.v1 import health_pb2

from tests.support.rpc import create_request
from tests.support.servers import ServerProcess, Stubs, base_env, wait_until

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING

HOLD_LOCK = """
import sys, duckdb
con = duckdb.connect(sys.argv[1])
print("locked", flush=True)
sys.stdin.readline()
con.close()
"""


def test_not_serving_until_the_database_opens(tmp_path: Path) -> None:
    db = tmp_path / "held.duckdb"
    holder = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(db)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "locked"  # another process holds the file
    server = ServerProcess(base_env(db))
    try:
        server.wait_serving()
        stubs = Stubs(grpc.insecure_channel(server.target))
        wait_until(lambda: any("database not available yet" in line for line in server.lines), 30,
                   "the server to report the locked database")
        assert stubs.health_status("") == NOT_SERVING
        assert stubs.health_status("liveness") == SERVING
        try:
            stubs.projects.ListProjects(pb.ListProjectsRequest(), timeout=5)
            raise AssertionError("ListProjects succeeded before the database was open")
        except grpc.RpcError as error:
            assert error.code() == grpc.StatusCode.UNAVAILABLE
        holder.communicate("release\n", timeout=30)  # the other process lets go
        server.wait_ready(stubs, timeout=60)
        assert stubs.projects.ListProjects(pb.ListProjectsRequest()).total_size == 0
    finally:
        holder.kill()
        server.close()


def test_sigterm_drains_in_flight_calls_and_exits_zero(tmp_path: Path) -> None:
    server = ServerProcess(base_env(tmp_path / "drain.duckdb", SHUTDOWN_DRAIN_SECONDS="1",
                                    SHUTDOWN_GRACE_SECONDS="20"))
    try:
        server.wait_serving()
        channel = grpc.insecure_channel(server.target)
        stubs = Stubs(channel)
        server.wait_ready(stubs)
        results: list[object] = []
        started = threading.Event()
        stop = threading.Event()

        def client() -> None:
            for i in range(5000):  # bounded; stops once the server stops accepting
                if stop.is_set():
                    return
                try:
                    results.append(stubs.projects.CreateProject(create_request(project_name=f"d{i}"), timeout=30))
                except grpc.RpcError as error:
                    results.append(error.code())
                    return
                started.set()

        threads = [threading.Thread(target=client) for _ in range(8)]
        for thread in threads:
            thread.start()
        assert started.wait(30)
        server.signal(signal.SIGTERM)
        wait_until(lambda: stubs.health_status("") == NOT_SERVING, 10, "readiness NOT_SERVING after SIGTERM")
        assert stubs.health_status("liveness") == SERVING  # still answering while it drains
        assert server.wait_exit(60) == 0
        stop.set()
        for thread in threads:
            thread.join(30)
        acknowledged = [r for r in results if isinstance(r, pb.Project)]
        refused = [r for r in results if not isinstance(r, pb.Project)]
        # Calls arriving after the drain were turned away as retryable; none failed mid-flight.
        assert acknowledged
        assert grpc.StatusCode.UNAVAILABLE in refused
        assert set(refused) == {grpc.StatusCode.UNAVAILABLE}, refused  # never CANCELLED: clients retry these
        assert any(r.get("message") == "stopped" for r in server.log_records())
        channel.close()

        # Every acknowledged project is in the (cleanly closed) database file.
        restarted = ServerProcess(base_env(tmp_path / "drain.duckdb"))
        try:
            restarted.wait_serving()
            stubs2 = Stubs(grpc.insecure_channel(restarted.target))
            restarted.wait_ready(stubs2)
            for project in acknowledged:
                assert stubs2.projects.GetProject(pb.GetProjectRequest(name=project.name)) == project
            # ...and nothing else: no refused call was written behind the client's back.
            total = stubs2.projects.ListProjects(pb.ListProjectsRequest(page_size=1)).total_size
            assert total == len(acknowledged)
        finally:
            restarted.close()
        assert not (tmp_path / "drain.duckdb.wal").exists(), "shutdown should checkpoint the WAL away"
    finally:
        server.close()


def test_calls_still_running_after_the_grace_period_get_unavailable_and_the_process_exits_in_time(
        tmp_path: Path) -> None:
    """An import stream that never ends and a health Watch: answered UNAVAILABLE, exit 0 within drain + grace."""
    drain, grace = 1.0, 2.0
    server = ServerProcess(base_env(tmp_path / "stuck.duckdb", SHUTDOWN_DRAIN_SECONDS=str(drain),
                                    SHUTDOWN_GRACE_SECONDS=str(grace), STREAM_IDLE_TIMEOUT="600"))
    try:
        server.wait_serving()
        channel = grpc.insecure_channel(server.target)
        stubs = Stubs(channel)
        server.wait_ready(stubs)
        created = stubs.projects.CreateProject(create_request(project_name="before"))
        never = threading.Event()

        def messages():  # type: ignore[no-untyped-def]
            message = pb.ImportProjectsRequest(mode=pb.IMPORT_MODE_ATOMIC)
            message.struct_rows.rows.add().update({"project_name": "stuck"})
            yield message
            never.wait(60)  # bounded; the server ends the call long before

        stuck = stubs.projects.ImportProjects.future(messages(), timeout=60)
        watch = stubs.health.Watch(health_pb2.HealthCheckRequest(service="liveness"), timeout=60)
        assert next(watch).status == SERVING
        wait_until(lambda: any(r.get("rpc_method", "").endswith("CreateProject") for r in server.log_records()),
                   10, "the server to be busy")
        signalled = time.monotonic()
        server.signal(signal.SIGTERM)
        assert server.wait_exit(30) == 0
        took = time.monotonic() - signalled
        never.set()
        try:
            stuck.result(timeout=10)
            raise AssertionError("the stuck import succeeded")
        except grpc.RpcError as error:
            assert error.code() == grpc.StatusCode.UNAVAILABLE, (error.code(), error.details())
        try:
            for _ in watch:
                pass
            raise AssertionError("the watch ended without a status")
        except grpc.RpcError as error:
            assert error.code() == grpc.StatusCode.UNAVAILABLE, (error.code(), error.details())
        # Within the drain and the grace period, plus the few seconds closing the database may take.
        assert took < drain + grace + 5, took
        channel.close()
        restarted = ServerProcess(base_env(tmp_path / "stuck.duckdb"))
        try:
            restarted.wait_serving()
            stubs2 = Stubs(grpc.insecure_channel(restarted.target))
            restarted.wait_ready(stubs2)
            assert stubs2.projects.ListProjects(pb.ListProjectsRequest()).total_size == 1  # nothing half-imported
            assert stubs2.projects.GetProject(pb.GetProjectRequest(name=created.name)) == created
        finally:
            restarted.close()
    finally:
        server.close()
