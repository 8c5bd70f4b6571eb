"""The Python client library against live servers.

Acceptance 2: a paged listing survives a server restart in its middle (the
client retries UNAVAILABLE until the server is back at the same address, and
the page token still works), and INVALID_ARGUMENT is never retried.
Also: Python values both ways, rich errors, deadlines, bulk helpers that
stream in batches, TLS and mutual TLS with tokens.
"""

from __future__ import annotations

import json
import socket
import threading
import uuid
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import grpc
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
import pytest
from duckdb_spawn_client import (
    AbortedError,
    Aggregation,
    Client,
    DeadlineExceededError,
    DuckdbSpawnError,
    InvalidArgumentError,
    NotFoundError,
    PermissionDeniedError,
    Progress,
    RetryPolicy,
    UnauthenticatedError,
)

from tests.support.auth import generated_admin_token
from tests.support.certs import CertificateAuthority
from tests.support.servers import InProcessServer, ServerProcess, Stubs, base_env, in_process_server, wait_until


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def attributes(i: int, **overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {"project_name": f"Project {i}", "total_amount": Decimal(f"{1000 + i}.25"),
                              "maturity_years": 1 + i % 30, "expected_tri": Decimal("6.50"), "dscr": Decimal("1.30")}
    values.update(overrides)
    return values


class RetryLog:
    """Records every retry the client makes: (attempt, status code)."""

    def __init__(self) -> None:
        self.retries: list[tuple[int, grpc.StatusCode]] = []

    def __call__(self, attempt: int, error: DuckdbSpawnError, wait: float) -> None:
        self.retries.append((attempt, error.code))


@pytest.fixture
def client(server: tuple[InProcessServer, Stubs]) -> Any:
    with Client(server[0].target, token=server[0].admin_token) as connected:
        yield connected


# -- acceptance 2 --------------------------------------------------------------------------

@pytest.mark.slow
def test_paged_listing_survives_a_server_restart(tmp_path: Path) -> None:
    port = free_port()
    database = tmp_path / "data" / "restart.duckdb"
    env = base_env(database, GRPC_PORT=str(port), METRICS_ENABLED="false")
    first = ServerProcess(env)
    second: ServerProcess | None = None
    log = RetryLog()
    try:
        first.wait_serving()
        client = Client(f"127.0.0.1:{port}", token=generated_admin_token(database), timeout=120,
                        retry=RetryPolicy(max_attempts=10_000, initial_backoff=0.05, max_backoff=0.5), on_retry=log)
        created = client.batch_create_projects([attributes(i) for i in range(120)])
        expected = [p.name for p in sorted(created, key=lambda p: p.attributes["total_amount"])]

        pages = client.iter_pages(page_size=10, order_by="total_amount")
        seen = [p.name for _ in range(3) for p in next(pages).projects]
        assert seen == expected[:30]
        log.retries.clear()  # the first calls may have waited for readiness (NOT_READY is UNAVAILABLE too)

        first.kill9()  # the server dies between two pages
        outcome: dict[str, Any] = {}

        def rest_of_listing() -> None:
            try:
                outcome["names"] = [p.name for page in pages for p in page.projects]
            except Exception as error:  # noqa: BLE001 - reported by the assertions below
                outcome["error"] = error

        walker = threading.Thread(target=rest_of_listing, daemon=True)
        walker.start()
        wait_until(lambda: log.retries, 30, "the client to retry the next page while the server is down")
        second = ServerProcess(env)  # same port, same DuckDB file
        walker.join(120)
        assert not walker.is_alive(), "the listing did not finish after the restart"
        assert "error" not in outcome, outcome.get("error")
        assert seen + outcome["names"] == expected  # nothing repeated, nothing skipped
        assert {code for _, code in log.retries} == {grpc.StatusCode.UNAVAILABLE}
        assert second.wait_serving() == port

        # INVALID_ARGUMENT is final: no retry, whatever the policy allows.
        retries_before = len(log.retries)
        token = client.list_projects(page_size=10, order_by="total_amount").next_page_token
        with pytest.raises(InvalidArgumentError) as reused:
            client.list_projects(page_size=10, page_token=token, order_by="total_amount desc")
        assert reused.value.field_violations[0].field == "page_token"
        with pytest.raises(InvalidArgumentError):
            client.list_projects(filter="status = = 1")
        assert len(log.retries) == retries_before
        client.close()
    finally:
        first.close()
        if second is not None:
            second.close()


def test_unavailable_is_retried_until_the_deadline_and_then_raised() -> None:
    log = RetryLog()
    with Client(f"127.0.0.1:{free_port()}", timeout=1.5, on_retry=log,
                retry=RetryPolicy(max_attempts=50, initial_backoff=0.01, max_backoff=0.2)) as client:
        with pytest.raises(DuckdbSpawnError) as raised:
            client.get_project(uuid.uuid4())
    assert raised.value.code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED)
    assert len(log.retries) >= 2 and {code for _, code in log.retries} == {grpc.StatusCode.UNAVAILABLE}


# -- Python values, errors, deadlines -------------------------------------------------------

def test_values_are_python_types_both_ways(client: Client) -> None:
    project = client.create_project(attributes(1, status="ACTIVE", description="Solar"),
                                     project_id="3f2b8c1e-4d5a-4e6f-8a7b-9c0d1e2f3a4b")
    assert project.id == uuid.UUID("3f2b8c1e-4d5a-4e6f-8a7b-9c0d1e2f3a4b")
    values = project.attributes
    assert values["total_amount"] == Decimal("1001.25") and isinstance(values["total_amount"], Decimal)
    assert values["maturity_years"] == 2 and isinstance(values["maturity_years"], int)
    assert isinstance(values["creation_date"], date) and not isinstance(values["creation_date"], datetime)
    assert isinstance(values["last_updated"], datetime) and values["last_updated"].tzinfo == UTC
    assert values["project_name"] == "Project 1" and values["status"] == "ACTIVE"
    assert project.create_time is not None and project.create_time.tzinfo == UTC

    # Big exact decimals survive the trip (a float would not).
    big = client.update_project(project.name, {"total_amount": Decimal("123456789012345678.99")},
                                update_mask=["total_amount"], etag=project.etag)
    assert big.attributes["total_amount"] == Decimal("123456789012345678.99")
    with pytest.raises(AbortedError) as stale:
        client.update_project(project.name, {"status": "COMPLETED"}, etag=project.etag)
    assert stale.value.reason == "ETAG_MISMATCH"

    cleared = client.update_project(project.name, {}, update_mask=["description"])
    assert cleared.attributes["description"] is None
    assert [p.name for p in client.iter_projects(filter="total_amount > 1e17")] == [project.name]

    summary = client.summarize_projects(
        aggregations=["count", "sum:total_amount", Aggregation("max", "maturity_years")], group_by=["status"])
    assert summary.rows == [{"status": "ACTIVE", "count": 1, "sum_total_amount": Decimal("123456789012345678.99"),
                             "max_maturity_years": 2}]

    batch = client.batch_create_projects([attributes(i) for i in range(3)])
    assert len(batch) == 3 and client.list_projects(page_size=1).total_size == 4
    client.delete_project(project.id)
    with pytest.raises(NotFoundError) as missing:
        client.get_project(project.name)
    assert missing.value.reason == "PROJECT_NOT_FOUND"
    assert missing.value.metadata["resource_name"] == project.name


def test_errors_carry_reason_and_every_field_violation(client: Client) -> None:
    with pytest.raises(InvalidArgumentError) as raised:
        client.create_project({"project_name": "x", "currency_code": "EURO", "total_amount": Decimal("1.005")})
    error = raised.value
    assert error.code == grpc.StatusCode.INVALID_ARGUMENT and error.reason == "INVALID_ATTRIBUTES"
    assert error.details.domain == "duckdbspawn.io"
    assert error.violations == {
        "attributes.currency_code": "TOO_LONG", "attributes.total_amount": "PRECISION_EXCEEDED",
        "attributes.maturity_years": "REQUIRED", "attributes.expected_tri": "REQUIRED", "attributes.dscr": "REQUIRED",
    }
    assert all(v.description for v in error.field_violations)
    assert str(error).startswith("INVALID_ARGUMENT (INVALID_ATTRIBUTES): ")


def test_deadlines_admin_and_monitoring(client: Client) -> None:
    with pytest.raises(DeadlineExceededError):
        client.list_projects(timeout=1e-6)
    assert client.check_health() == "SERVING" and client.check_health("liveness") == "SERVING"
    assert client.get_health().status in {"HEALTHY", "DEGRADED"}
    assert client.set_log_level("DEBUG") == "DEBUG" and client.get_log_level() == "DEBUG"
    assert [t.name for t in client.list_tables()] == ["tables/projects"]
    assert client.get_table("projects").protected
    assert [r.table for r in client.create_tables()] == ["tables/projects"]
    assert [(t.table, t.created) for t in client.initialize_database()] == [("tables/projects", False)]


def test_admin_schema_and_metrics_methods_answer_per_contract(client: Client) -> None:
    def missing_table() -> bool:
        with pytest.raises(NotFoundError):
            client.delete_table("archive")
        return True

    calls = {
        "duckdb_spawn.v1.AdminService/GetSchema": lambda: client.get_schema("project_schema").name
        == "schemas/project_schema",
        "duckdb_spawn.v1.AdminService/RefreshSchemas": lambda: [r.schema for r in client.refresh_schemas()]
        == ["schemas/project_schema"],
        "duckdb_spawn.v1.AdminService/UpdateTable": lambda: not client.update_table("projects", dry_run=True).applied,
        "duckdb_spawn.v1.AdminService/DeleteTable": missing_table,
        "duckdb_spawn.v1.MonitoringService/GetSystemMetrics": lambda: client.get_system_metrics(
            cpu_interval=0.05).cpu["count"] >= 1,
    }
    for method, call in calls.items():
        assert call(), method


# -- bulk ----------------------------------------------------------------------------------------

def test_bulk_imports_stream_every_format_in_batches(client: Client, tmp_path: Path) -> None:
    rows = [attributes(i, status=("ACTIVE", "COMPLETED")[i % 2]) for i in range(2_500)]
    table = pa.Table.from_pylist([{**r, "total_amount": str(r["total_amount"]), "expected_tri": "6.50",
                                   "dscr": "1.30"} for r in rows])
    table = table.set_column(table.schema.get_field_index("maturity_years"), "maturity_years",
                             table.column("maturity_years").cast(pa.int32()))
    pa_csv.write_csv(table, tmp_path / "rows.csv")
    pq.write_table(table, tmp_path / "rows.parquet")
    (tmp_path / "rows.jsonl").write_text("".join(json.dumps({**r, "total_amount": str(r["total_amount"]),
                                                             "expected_tri": 6.50, "dscr": 1.30}) + "\n"
                                                 for r in rows))

    sources: list[tuple[str, Any]] = [
        ("csv", lambda progress: client.import_file(tmp_path / "rows.csv", batch_rows=400, progress=progress)),
        ("parquet", lambda progress: client.import_file(tmp_path / "rows.parquet", batch_rows=400,
                                                        progress=progress)),
        ("jsonl", lambda progress: client.import_file(tmp_path / "rows.jsonl", batch_rows=400, progress=progress)),
        ("table", lambda progress: client.import_table(table, batch_rows=400, progress=progress)),
        ("rows", lambda progress: client.import_rows(iter(rows), batch_rows=400, progress=progress)),
    ]
    for name, run_import in sources:
        steps: list[Progress] = []
        result = run_import(steps.append)
        assert (result.imported_count, result.failed_count) == (2_500, 0), name
        # Streamed: one message per batch of at most 400 rows, progress after each.
        assert len(steps) >= 7, name
        assert [s.rows for s in steps] == sorted(s.rows for s in steps) and steps[-1].rows == 2_500, name
        if steps[-1].total is not None:
            assert steps[-1].completed == steps[-1].total, name

    total = client.list_projects(page_size=1, filter='project_name = "Project 1"').total_size
    assert total == 5
    amounts = client.summarize_projects(aggregations=["sum:total_amount"]).rows[0]["sum_total_amount"]
    assert amounts == 5 * sum(r["total_amount"] for r in rows)


def test_import_reports_rejected_rows_and_export_writes_files(client: Client, tmp_path: Path) -> None:
    rows = [attributes(i) for i in range(10)]
    rows[3]["dscr"] = Decimal("1000.00")  # out of DECIMAL(5,2)
    rows[7]["status"] = "LOST"
    atomic = client.import_rows(rows)
    assert (atomic.imported_count, atomic.failed_count) == (0, 2)
    assert [e.row_number for e in atomic.errors] == [4, 8]
    assert atomic.errors[1].field_violations[0].field == "status"
    best = client.import_rows(rows, mode="best_effort")
    assert (best.imported_count, best.failed_count) == (8, 2)

    for kind in ("parquet", "csv", "jsonl", "arrow"):
        path = tmp_path / f"out.{kind}"
        steps: list[Progress] = []
        result = client.export_to_file(path, order_by="total_amount", progress=steps.append)
        assert (result.row_count, result.format) == (8, kind) and path.stat().st_size == result.byte_count
        assert steps[-1].rows == 8 and steps[-1].total == 8
    exported = pq.read_table(tmp_path / "out.parquet")
    assert exported.column("total_amount").to_pylist() == [r["total_amount"] for i, r in enumerate(rows)
                                                           if i not in (3, 7)]
    # An export imports again as it is (server-managed columns are ignored).
    again = client.import_file(tmp_path / "out.arrow")
    assert again.imported_count == 8

    # A file that cannot be read past its first batch raises the reading error and imports nothing,
    # although the rows before the bad one had already been sent.
    broken = tmp_path / "broken.jsonl"
    lines = [json.dumps({"project_name": f"Fine {i}", "total_amount": "10.00", "maturity_years": 1,
                         "expected_tri": "1.00", "dscr": "1.00"}) for i in range(3_000)]
    broken.write_text("\n".join([*lines, "{not json"]) + "\n")
    steps: list[Progress] = []
    with pytest.raises(ValueError, match="line 3001 is not valid JSON"):
        client.import_file(broken, batch_rows=500, progress=steps.append)
    assert steps[-1].rows == 3_000  # six messages had gone out
    assert client.list_projects(page_size=1).total_size == 16
    # The same through the CSV reader: its conversion error, nothing imported.
    bad_csv = tmp_path / "broken.csv"
    bad_csv.write_text("project_name,total_amount,maturity_years,expected_tri,dscr\nBroken,10.00,soon,1.00,1.00\n")
    with pytest.raises(pa.ArrowInvalid, match="soon"):
        client.import_file(bad_csv)
    assert client.list_projects(page_size=1).total_size == 16


# -- TLS, mutual TLS, tokens ------------------------------------------------------------------------

def test_tls_mutual_tls_and_tokens(tmp_path: Path) -> None:
    ca = CertificateAuthority(tmp_path / "pki")
    server_pem, loader = ca.issue("localhost", server=True), ca.issue("etl-loader")
    env = {"TLS_CERT_FILE": str(server_pem.cert), "TLS_KEY_FILE": str(server_pem.key),
           "TLS_CLIENT_CA_FILE": str(ca.cert_path), "TLS_CLIENT_ROLES": "etl-loader:writer"}
    with in_process_server(tmp_path / "data" / "tls.duckdb", **env) as (server, _):
        mutual = {"ca_file": str(ca.cert_path), "cert_file": str(loader.cert), "key_file": str(loader.key)}
        with Client(server.target, **mutual) as writer:
            created = writer.create_project(attributes(1))
            with pytest.raises(PermissionDeniedError):  # the certificate's role is writer
                writer.list_tables()
        with Client(server.target, token=server.admin_token, **mutual) as admin:  # the token takes precedence
            assert admin.get_table("projects").row_count == 1
        with Client(server.target, token="wrong-token-0123456789", **mutual) as wrong:
            with pytest.raises(UnauthenticatedError):
                wrong.get_project(created.name)
        with Client(server.target, ca_file=str(ca.cert_path), timeout=5,
                    retry=RetryPolicy(max_attempts=1)) as no_certificate:
            with pytest.raises(DuckdbSpawnError) as refused:  # the handshake fails: no client certificate
                no_certificate.get_project(created.name)
            assert refused.value.code == grpc.StatusCode.UNAVAILABLE


def test_settings_from_the_environment(server: tuple[InProcessServer, Stubs], monkeypatch: pytest.MonkeyPatch,
                                       tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text(server[0].admin_token + "\n")
    monkeypatch.setenv("DUCKDB_SPAWN_SERVER", server[0].target)
    monkeypatch.setenv("DUCKDB_SPAWN_TOKEN_FILE", str(token_file))
    monkeypatch.delenv("DUCKDB_SPAWN_TOKEN", raising=False)
    with Client.from_env() as client:
        assert client.get_log_level() in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}
