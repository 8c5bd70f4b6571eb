"""An ontology server that fails in every way, while the service must go on serving.

A real HTTP server on loopback that this scenario controls plays the
ontology: down, slow (beyond ONTO_SERVER_TIMEOUT), HTTP 500, garbage bodies,
malicious identifiers (SQL in table and column names, types outside the
allow-list), and a backtracking pattern (`^(a+)+$`, then a create of 30 x
'a' + '!'). Throughout, a client keeps creating projects and a prober asks
readiness on the main port. The promises:

- creates go on succeeding with the schema in force;
- health on the main port answers within HEALTH_DEADLINE, and readiness
  stays SERVING;
- a forced RefreshSchemas answers in time and reports the failure; a
  failing or malicious document never replaces the schema in force;
- nothing answers INTERNAL.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import grpc
from duckdb_spawn.v1 import admin_service_pb2 as admin_pb
from duckdb_spawn.v1 import project_service_pb2 as pb
from grpc_health.v1 import health_pb2

from tests.chaos.figures import Row, Stopwatch
from tests.chaos.harness import SERVING, Service
from tests.support.ontology import project_document
from tests.support.rpc import create_request
from tests.support.servers import Stubs, wait_until

ONTO_TIMEOUT = 1.0  # ONTO_SERVER_TIMEOUT
SLOW_DELAY = 2.5  # the slow server answers after this long: beyond ONTO_TIMEOUT
HEALTH_DEADLINE = 2.0  # readiness on the main port must answer within this
CREATE_DEADLINE = 5.0
REDOS_PATTERN = "^(a+)+$"
REDOS_INPUT = "a" * 30 + "!"


def _json(document: Any) -> bytes:
    return json.dumps(document).encode()


def malicious_documents() -> list[tuple[str, bytes]]:
    """Schema documents that must be rejected; none may reach SQL."""
    v1 = project_document("v1")

    def with_column(**column: Any) -> bytes:
        return _json({**v1, "version": "evil", "columns": [*v1["columns"], column]})

    return [
        ("SQL in a column name", with_column(name='x"; DROP TABLE projects; --', type="VARCHAR")),
        ("SQL in a table name", _json({**v1, "version": "evil", "name": "projects; DROP TABLE projects"})),
        ("quote in a table name", _json({**v1, "version": "evil", "name": 'projects"'})),
        ("SQL in a type", with_column(name="evil", type="VARCHAR); DROP TABLE projects; --")),
        ("type BLOB", with_column(name="evil", type="BLOB")),
        ("type STRUCT", with_column(name="evil", type="STRUCT(a INTEGER)")),
        ("type with a default expression", with_column(name="evil", type="VARCHAR DEFAULT (current_setting('x'))")),
        ("upper-case column name", with_column(name="Evil", type="VARCHAR")),
        ("1,000-character column name", with_column(name="e" * 1000, type="VARCHAR")),
        ("non-ASCII column name", with_column(name="prøject", type="VARCHAR")),
        ("duplicate column", with_column(name="project_name", type="INTEGER")),
        ("JSON Schema with SQL in x-duckdb-table", _json({
            "$schema": "https://json-schema.org/draft/2020-12/schema", "type": "object",
            "x-duckdb-table": 'projects"; DROP TABLE projects; --', "x-duckdb-version": "evil",
            "properties": {"project_id": {"type": "string", "format": "uuid"}}})),
        ("invalid regular expression", _json(project_document("evil", project_name={"pattern": "(unclosed"}))),
    ]


def garbage_bodies() -> list[tuple[str, bytes]]:
    return [
        ("not JSON", b"not json at all"), ("truncated JSON", b'{"name": "projects", "columns": ['),
        ("a JSON list", b"[]"), ("JSON null", b"null"), ("columns not a list", b'{"name": "projects", "columns": "x"}'),
        ("no columns", b'{"name": "projects", "columns": []}'), ("invalid UTF-8", b'{"name": "\xff\xfe"}'),
        ("NaN in JSON", b'{"name": "projects", "columns": [], "version": NaN}'),
        ("nested 100,000 deep", b"[" * 100_000 + b"]" * 100_000),
        ("3 MB of spaces", b" " * (3 * 1024 * 1024)),
        ("HTML error page", b"<html><body>502 Bad Gateway</body></html>"),
    ]


class FaultyOntology:
    """GET /health and /schemas/project_schema, answering as `mode` says: ok, slow, 500 or body."""

    def __init__(self, document: bytes) -> None:
        self.document = document
        self.mode = "ok"
        self.hits: Counter[str] = Counter()
        self._released = threading.Event()  # set on stop: a slow answer ends at once
        self._lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> FaultyOntology:
        self._released.clear()
        self._httpd = _QuietServer(("127.0.0.1", self.port), self._handler())
        self.port = self._httpd.server_address[1]
        threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def stop(self) -> None:
        """Down: the port refuses connections."""
        self._released.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def count(self, mode: str) -> int:
        with self._lock:
            return self.hits[mode]

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        ontology = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                mode, document = ontology.mode, ontology.document
                with ontology._lock:
                    ontology.hits[mode] += 1
                if mode == "slow":
                    ontology._released.wait(SLOW_DELAY)
                if mode == "500":
                    return self._send(500, b'{"detail": "internal server error"}')
                if self.path == "/health":
                    return self._send(200, b'{"status": "healthy"}')
                if self.path != "/schemas/project_schema":
                    return self._send(404, b'{"detail": "not found"}')
                etag = '"' + hashlib.sha256(document).hexdigest()[:32] + '"'
                if self.headers.get("If-None-Match") == etag:
                    return self._send(304, b"", etag)
                return self._send(200, document, etag)

            def _send(self, status: int, body: bytes, etag: str = "") -> None:
                try:
                    self.send_response(status)
                    if etag:
                        self.send_header("ETag", etag)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    if status != 304:
                        self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the service gave up waiting: that is the point of a slow server

            def log_message(self, format: str, *args: object) -> None:
                pass

        return Handler


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        """The service hanging up on a slow answer is the scenario working, not an error to print."""


class Traffic:
    """A creator and a readiness prober running beside the faults, each bounded in count."""

    def __init__(self, stubs: Stubs, row: Row, max_calls: int = 20_000) -> None:
        self.stubs, self.row, self.max_calls = stubs, row, max_calls
        self.phase = "start"
        self.stop = threading.Event()
        self.created = 0
        self.creates_in_phase: Counter[str] = Counter()
        self.health_worst = 0.0
        self.health_checks = 0
        self._threads = [threading.Thread(target=self._create_loop, name="chaos-onto-creates", daemon=True),
                         threading.Thread(target=self._probe_loop, name="chaos-onto-health", daemon=True)]

    def start(self) -> Traffic:
        for thread in self._threads:
            thread.start()
        return self

    def finish(self) -> None:
        self.stop.set()
        for thread in self._threads:
            thread.join(CREATE_DEADLINE + HEALTH_DEADLINE + 5)

    def _create_loop(self) -> None:
        for n in range(self.max_calls):
            if self.stop.is_set():
                return
            phase = self.phase
            started = time.monotonic()
            try:
                # All 'a': valid under v1 and under the backtracking pattern.
                self.stubs.projects.CreateProject(create_request(project_name="a" * (1 + n % 20)),
                                                  timeout=CREATE_DEADLINE)
                self.created += 1
                self.creates_in_phase[phase] += 1
            except grpc.RpcError as error:
                if error.code() in (grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN):
                    self.row.internal += 1
                self.row.problem(f"{phase}: a create failed with {error.code().name} after "
                                 f"{time.monotonic() - started:.1f} s")
            self.row.tried += 1
            self.stop.wait(0.02)  # pacing: about 50 creates a second, leaving the cores to the faults

    def _probe_loop(self) -> None:
        for _ in range(self.max_calls):
            if self.stop.is_set():
                return
            phase = self.phase
            started = time.monotonic()
            try:
                status = self.stubs.health.Check(health_pb2.HealthCheckRequest(service=""),
                                                 timeout=HEALTH_DEADLINE).status
                if status != SERVING:
                    self.row.problem(f"{phase}: readiness {health_pb2.HealthCheckResponse.ServingStatus.Name(status)}")
            except grpc.RpcError as error:
                self.row.problem(f"{phase}: readiness on the main port did not answer within {HEALTH_DEADLINE:g} s "
                                 f"({error.code().name})")
            self.health_worst = max(self.health_worst, time.monotonic() - started)
            self.health_checks += 1
            self.stop.wait(0.05)


def ontology_faults(phase_creates: int = 40, seed: int = 5) -> Row:
    """Every fault in turn, each held until `phase_creates` creates went through it (bounded in time)."""
    del seed  # the scenario is deterministic; the parameter keeps the scenario signatures alike
    row, watch = Row("ontology failing"), Stopwatch()
    v1 = _json(project_document("v1"))
    ontology = FaultyOntology(v1).start()
    with tempfile.TemporaryDirectory(prefix="chaos-onto-") as tmp:
        service = Service(Path(tmp) / "data" / "onto.duckdb", Path(tmp), USE_MOCK_ONTO_SERVER="false",
                          ONTO_SERVER_URL=ontology.url, ONTO_CACHE_TTL="0.3", ONTO_SERVER_TIMEOUT=f"{ONTO_TIMEOUT:g}",
                          ONTO_HEALTH_CACHE_SECONDS="0.5", HEALTH_PROBE_INTERVAL="0.2")
        traffic: Traffic | None = None
        try:
            service.start()
            assert service.stubs is not None
            traffic = Traffic(service.stubs, row).start()
            _phases(row, service.stubs, ontology, traffic, phase_creates)
        finally:
            if traffic is not None:
                traffic.finish()
                row.acknowledged = traffic.created
                row.notes["health checks"] = traffic.health_checks
                row.notes["slowest health s"] = f"{traffic.health_worst:.2f}"
            service.close()
            ontology.stop()
    row.seconds = watch.elapsed
    return row


def _phases(row: Row, stubs: Stubs, ontology: FaultyOntology, traffic: Traffic, phase_creates: int) -> None:
    def hold(phase: str, exercised: Callable[[], bool] = lambda: True, limit: float = 30) -> None:
        """Keeps the fault until it was exercised and `phase_creates` creates went through it."""
        traffic.phase = phase
        try:
            wait_until(lambda: exercised() and traffic.creates_in_phase[phase] >= phase_creates, limit,
                       f"{phase_creates} creates to go through it")
        except AssertionError as error:
            row.problem(f"{phase}: {error}")

    def refresh(phase: str, expect_failure: bool = True) -> admin_pb.SchemaRefreshResult | None:
        started = time.monotonic()
        try:
            result = stubs.admin.RefreshSchemas(admin_pb.RefreshSchemasRequest(), timeout=10).results[0]
        except grpc.RpcError as error:
            if error.code() in (grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN):
                row.internal += 1
            row.problem(f"{phase}: RefreshSchemas failed with {error.code().name} after "
                        f"{time.monotonic() - started:.1f} s")
            return None
        finally:
            row.tried += 1
        if expect_failure and result.outcome != admin_pb.REFRESH_OUTCOME_FAILED:
            row.problem(f"{phase}: RefreshSchemas reported {admin_pb.RefreshOutcome.Name(result.outcome)} "
                        f"(version {result.version!r}) for a document that must be refused")
        if expect_failure and "internal error" in result.message:
            row.problem(f"{phase}: the refresh failed on an unexpected exception ({result.message[:80]!r})")
        return result

    def schema_in_force(phase: str, version: str = "v1") -> None:
        try:
            schema = stubs.admin.GetSchema(admin_pb.GetSchemaRequest(name="schemas/project_schema"), timeout=10)
            tables = [t.name for t in stubs.admin.ListTables(admin_pb.ListTablesRequest(), timeout=10).tables]
        except grpc.RpcError as error:
            row.problem(f"{phase}: GetSchema/ListTables failed with {error.code().name}")
            return
        if schema.version != version:
            row.problem(f"{phase}: schema in force is {schema.version!r}, expected {version!r}")
        if tables != ["tables/projects"]:
            row.problem(f"{phase}: tables are {tables}")

    hold("healthy")
    # Down: connections refused.
    ontology.stop()
    refresh("down")
    hold("down")
    schema_in_force("down")
    # Slow: answers after SLOW_DELAY, beyond ONTO_SERVER_TIMEOUT.
    ontology.mode = "slow"
    ontology.start()
    refresh("slow")
    hold("slow", lambda: ontology.count("slow") >= 2)
    schema_in_force("slow")
    # HTTP 500.
    ontology.mode = "500"
    refresh("HTTP 500")
    hold("HTTP 500", lambda: ontology.count("500") >= 2)
    schema_in_force("HTTP 500")
    # Garbage bodies and malicious documents: each one forced in, each one refused.
    ontology.mode = "body"
    for label, body in [*garbage_bodies(), *malicious_documents()]:
        ontology.document = body
        traffic.phase = f"document: {label}"
        refresh(f"document: {label}")
        schema_in_force(f"document: {label}")
    hold("bad documents")
    # Back to v1: the service recovers (the breaker may hold the next attempt back a little).
    ontology.mode, ontology.document = "ok", _json(project_document("v1"))
    traffic.phase = "recovered"
    try:
        wait_until(lambda: (r := refresh("recovered", expect_failure=False)) is not None
                   and r.outcome != admin_pb.REFRESH_OUTCOME_FAILED, 30, "a refresh to succeed again", interval=0.3)
    except AssertionError as error:
        row.problem(f"recovered: {error}")
    hold("recovered")
    # A backtracking pattern: whether the schema loads or is refused, nothing may freeze.
    traffic.phase = "backtracking pattern"
    ontology.document = _json(project_document("redos", project_name={"pattern": REDOS_PATTERN}))
    refresh("backtracking pattern", expect_failure=False)
    started = time.monotonic()
    try:
        stubs.projects.CreateProject(create_request(project_name=REDOS_INPUT), timeout=CREATE_DEADLINE)
    except grpc.RpcError as error:
        if error.code() in (grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN):
            row.internal += 1
        if error.code() != grpc.StatusCode.INVALID_ARGUMENT:
            row.problem(f"backtracking pattern: the create of 30 x 'a' + '!' got {error.code().name} after "
                        f"{time.monotonic() - started:.1f} s (INVALID_ARGUMENT at once expected)")
    row.tried += 1
    row.notes["backtracking create s"] = f"{time.monotonic() - started:.2f}"
    hold("backtracking pattern", limit=15)
    # Every acknowledged create is there (calls that timed out may have landed too).
    try:
        total = stubs.projects.ListProjects(pb.ListProjectsRequest(page_size=1), timeout=10).total_size
        if total < traffic.created:
            row.lost = traffic.created - total
            row.problem(f"{traffic.created} creates acknowledged, {total} projects stored")
    except grpc.RpcError as error:
        row.problem(f"end: ListProjects failed with {error.code().name}")
