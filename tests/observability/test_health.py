"""Acceptance 2: GetHealth and readiness follow the real state of the dependencies."""

from __future__ import annotations

import resource
import threading
from pathlib import Path

import duckdb
import grpc
from duckdb_spawn.v1 import monitoring_service_pb2 as mpb
from grpc_health.v1 import health_pb2

from tests.support.metrics import scrape, value
from tests.support.onto_http import OntologyServer
from tests.support.rpc import create_request
from tests.support.servers import in_process_server, wait_until

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING
HEALTHY = mpb.HEALTH_STATUS_HEALTHY
DEGRADED = mpb.HEALTH_STATUS_DEGRADED
UNHEALTHY = mpb.HEALTH_STATUS_UNHEALTHY
CHECKS = ["database", "ontology_server", "schema_cache", "disk", "memory", "cpu"]


def _checks(health: mpb.Health) -> dict[str, mpb.HealthCheck]:
    return {check.name: check for check in health.checks}


def _worst(health: mpb.Health, *, excluding: str = "") -> int:
    """The combining rule: the worst verdict (HEALTHY < DEGRADED < UNHEALTHY; the enum is ordered so)."""
    return max((c.status for c in health.checks if c.name != excluding), default=HEALTHY)


def test_get_health_reports_every_check_with_observed_values(tmp_path: Path) -> None:
    with in_process_server(tmp_path / "h.duckdb") as (_, stubs):
        health = stubs.monitoring.GetHealth(mpb.GetHealthRequest())
        checks = _checks(health)
        assert list(checks) == CHECKS
        assert health.status == _worst(health)
        assert checks["database"].status == HEALTHY
        # The mock is in use (no ontology server in this test): health says so (README, Observability).
        assert checks["schema_cache"].status == DEGRADED
        assert "serving the built-in mock" in checks["schema_cache"].message
        assert checks["schema_cache"].observed["schemas"]["project_schema"]["source"] == "mock"
        assert checks["schema_cache"].observed["pending_migrations"] == {}
        assert checks["ontology_server"].status == HEALTHY
        assert "USE_MOCK_ONTO_SERVER=true" in checks["ontology_server"].message
        assert checks["disk"].observed["free_bytes"] > 0
        assert checks["disk"].observed["path"] == str((tmp_path).resolve())
        assert checks["memory"].observed["total_bytes"] > 0
        assert checks["cpu"].observed["count"] >= 1
        for check in checks.values():
            assert check.message and check.status != mpb.HEALTH_STATUS_UNSPECIFIED
        assert health.version and health.start_time.seconds > 0 and health.uptime.ToNanoseconds() > 0


def test_ontology_outage_degrades_health_within_the_cache_period_and_recovers(tmp_path: Path) -> None:
    ontology = OntologyServer().start()
    restarted: OntologyServer | None = None
    try:
        with in_process_server(tmp_path / "o.duckdb", USE_MOCK_ONTO_SERVER="false", ONTO_SERVER_URL=ontology.url,
                               ONTO_HEALTH_CACHE_SECONDS="0.5", HEALTH_PROBE_INTERVAL="0.2",
                               ONTO_CACHE_TTL="0.5") as (server, stubs):
            def ontology_check() -> tuple[mpb.Health, mpb.HealthCheck]:
                health = stubs.monitoring.GetHealth(mpb.GetHealthRequest())
                return health, _checks(health)["ontology_server"]

            before, check = ontology_check()
            assert check.status == HEALTHY and check.observed["http_status"] == 200
            assert check.observed["url"] == f"{ontology.url}/health"
            assert before.status == _worst(before)

            ontology.stop()
            during, check = wait_until(lambda: (lambda h, c: (h, c) if c.status == DEGRADED else None)(
                *ontology_check()), 10, "the ontology check to fail")
            assert "unreachable" in check.message
            # What GetHealth shows is never older than the cache period: an outage shows within it.
            assert check.observed["checked_seconds_ago"] <= check.observed["cache_seconds"] == 0.5
            assert during.status == max(DEGRADED, _worst(during, excluding="ontology_server"))
            assert during.status >= DEGRADED
            wait_until(lambda: value(scrape(server.app.metrics_port), "duckdb_spawn_ontology_up") == 0, 10,
                       "the ontology_up gauge to drop")
            # The service keeps answering from the schema it has: degraded, not down.
            assert stubs.projects.CreateProject(create_request()).name

            restarted = OntologyServer(ontology.port).start()
            after, check = wait_until(lambda: (lambda h, c: (h, c) if c.status == HEALTHY else None)(
                *ontology_check()), 10, "the ontology check to recover")
            assert after.status == _worst(after, excluding="ontology_server")
            # A schema refresh that failed during the outage keeps the schema cache DEGRADED until the
            # next refresh succeeds (issue 3): the overall verdict comes back with it.
            wait_until(lambda: ontology_check()[0].status == before.status, 20, "overall health to recover")
            assert value(scrape(server.app.metrics_port), "duckdb_spawn_ontology_requests_total",
                         endpoint="health", outcome="unreachable") >= 1
    finally:
        ontology.stop()
        if restarted is not None:
            restarted.stop()


def _invalidate_database(con: duckdb.DuckDBPyConnection) -> None:
    """Makes DuckDB fail a checkpoint as on a full disk: DuckDB then invalidates the database for good.

    The process may not grow any file while the checkpoint runs (RLIMIT_FSIZE 0; Python ignores SIGXFSZ,
    so writes fail with EFBIG, as with ENOSPC). Only this checkpoint runs in that window. A checkpoint
    refused because a write transaction is open at that moment is simply tried again.
    """

    def fatal_checkpoint() -> bool:
        soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
        resource.setrlimit(resource.RLIMIT_FSIZE, (0, hard))
        try:
            con.execute("CHECKPOINT")
        except duckdb.FatalException:
            return True
        except duckdb.TransactionException:
            return False  # "other write transactions active": not now
        finally:
            resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        raise AssertionError("the checkpoint succeeded although no file could grow")

    wait_until(fatal_checkpoint, 10, "a checkpoint that fails for want of disk space (CHECKPOINT kept "
               "answering 'other write transactions active': does a connection hold a transaction open?)",
               interval=0.05)


def test_an_unusable_database_flips_readiness_but_not_liveness(tmp_path: Path) -> None:
    db_path = tmp_path / "broken.duckdb"
    with in_process_server(db_path, HEALTH_PROBE_INTERVAL="0.1") as (server, stubs):
        watch = stubs.health.Watch(health_pb2.HealthCheckRequest(service=""))
        seen: list[int] = []

        def read() -> None:
            try:
                for response in watch:
                    seen.append(response.status)
            except grpc.RpcError:
                pass  # cancelled at the end of the test

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        wait_until(lambda: seen == [SERVING], 10, "Watch to report SERVING")
        stubs.projects.CreateProject(create_request())  # something in the WAL for the checkpoint to write

        assert server.app.storage is not None
        _invalidate_database(server.app.storage.database.cursor())  # a connection to the server's DuckDB

        wait_until(lambda: stubs.health_status("") == NOT_SERVING, 10, "readiness NOT_SERVING")
        assert stubs.health_status("liveness") == SERVING
        for service in ("duckdb_spawn.v1.ProjectService", "duckdb_spawn.v1.AdminService"):
            assert stubs.health_status(service) == NOT_SERVING
        wait_until(lambda: seen == [SERVING, NOT_SERVING], 10, "Watch to stream the change to NOT_SERVING")
        health = stubs.monitoring.GetHealth(mpb.GetHealthRequest())
        database = _checks(health)["database"]
        assert database.status == UNHEALTHY and "cannot answer" in database.message
        assert health.status == UNHEALTHY
        samples = scrape(server.app.metrics_port)
        assert value(samples, "duckdb_spawn_ready") == 0
        assert value(samples, "duckdb_spawn_health_check_status", check="database") == 2
        watch.cancel()
