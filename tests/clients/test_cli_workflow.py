"""Acceptance 1: the `duckdb-spawn` CLI runs a full workflow against a live server, with checked exit codes.

The CLI runs as a user runs it: the installed console script in a subprocess,
configured through flags and DUCKDB_SPAWN_* environment variables.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from duckdb_spawn_client.cli import exit_codes

from tests.support.servers import BIN, InProcessServer, Stubs, in_process_server
from tests.support.tokens import write_tokens_file

CLI = str(BIN / "duckdb-spawn")
ROWS = 50_000


def run(target: str, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("DUCKDB_SPAWN_")}
    environment = {**inherited, "DUCKDB_SPAWN_SERVER": target, "COLUMNS": "160", **env}
    return subprocess.run([CLI, *args], capture_output=True, text=True, timeout=300, env=environment)


def ok_json(result: subprocess.CompletedProcess[str]) -> Any:
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def write_csv(path: Path, rows: int) -> Decimal:
    """A CSV of valid projects; returns the sum of their total_amount."""
    total = Decimal(0)
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["project_name", "description", "total_amount", "maturity_years", "expected_tri", "dscr",
                         "status", "currency_code"])
        for i in range(rows):
            amount = Decimal(f"{1000 + i}.{i % 100:02d}")
            total += amount
            writer.writerow([f"Imported {i}", "" if i % 3 else f"row {i}", amount, 1 + i % 30, "5.50", "1.20",
                             ("PROPOSED", "COMPLETED")[i % 2], "EUR"])
    return total


@pytest.mark.slow
def test_cli_full_workflow(server: tuple[InProcessServer, Stubs], tmp_path: Path) -> None:
    target = server[0].target
    token_file = str(server[0].db_path.parent / "admin.token")

    # Create from flags: numbers keep their exact digits, text stays text.
    solar = ok_json(run(target, "--json", "projects", "create", "--set", "project_name=Solar farm",
                        "--set", "total_amount=1250000.50", "--set", "maturity_years=15",
                        "--set", "expected_tri=7.25", "--set", "dscr=1.35", "--set", "status=ACTIVE"))
    assert solar["attributes"]["total_amount"] == "1250000.50" and solar["attributes"]["maturity_years"] == 15

    # Create from a JSON file.
    document = tmp_path / "wind.json"
    document.write_text('{"attributes": {"project_name": "Wind park", "total_amount": 980000.00, '
                        '"maturity_years": 20, "expected_tri": 6.10, "dscr": 1.40, "status": "ACTIVE", '
                        '"currency_code": "EUR"}}')
    wind = ok_json(run(target, "--json", "projects", "create", "--file", str(document)))
    assert wind["attributes"]["total_amount"] == "980000.00" and wind["attributes"]["currency_code"] == "EUR"
    ok_json(run(target, "--json", "projects", "create", "--set", "project_name=Small", "--set", "total_amount=10",
                "--set", "maturity_years=1", "--set", "expected_tri=1", "--set", "dscr=1"))

    # List with a filter and an ordering, as JSON and as a table.
    listed = ok_json(run(target, "--json", "projects", "list", "--filter", 'status = "ACTIVE"',
                         "--order-by", "total_amount asc"))
    assert [p["name"] for p in listed["projects"]] == [wind["name"], solar["name"]]
    assert listed["total_size"] == 2
    table = run(target, "projects", "list", "--filter", 'status = "ACTIVE"', "--order-by", "total_amount desc",
                "--columns", "project_name,total_amount")
    assert table.returncode == 0, table.stderr
    assert table.stdout.index("Solar farm") < table.stdout.index("Wind park")
    assert "1250000.50" in table.stdout and "2 of 2 projects" in table.stdout

    # Update with a mask built from --set / --unset.
    updated = ok_json(run(target, "--json", "projects", "update", wind["name"], "--set", "status=COMPLETED",
                          "--set", "description=Repowered", "--etag", wind["etag"]))
    assert updated["attributes"]["status"] == "COMPLETED" and updated["attributes"]["description"] == "Repowered"
    cleared = ok_json(run(target, "--json", "projects", "update", wind["name"], "--unset", "description"))
    assert cleared["attributes"]["description"] is None

    # A stale etag is a conflict with its own exit code.
    stale = run(target, "projects", "update", wind["name"], "--set", "status=ACTIVE", "--etag", wind["etag"])
    assert stale.returncode == exit_codes.ABORTED, stale.stderr
    assert "ETAG_MISMATCH" in stale.stderr

    # Summarize.
    summary = ok_json(run(target, "--json", "projects", "summarize", "--group-by", "status", "--agg", "count",
                          "--agg", "sum:total_amount"))
    assert {r["status"]: (r["count"], r["sum_total_amount"]) for r in summary["rows"]} == {
        "ACTIVE": (1, "1250000.50"), "COMPLETED": (1, "980000.00"), "PROPOSED": (1, "10.00")}

    # Import 50,000 rows from CSV with a progress bar (forced: stderr is a pipe here).
    source = tmp_path / "projects.csv"
    expected_sum = write_csv(source, ROWS)
    imported = run(target, "--json", "--progress", "projects", "import", str(source))
    report = ok_json(imported)
    assert report["imported_count"] == ROWS and report["failed_count"] == 0
    assert "import projects.csv" in imported.stderr
    assert "50,000 rows" in imported.stderr and "rows/s" in imported.stderr and "ETA" in imported.stderr

    # Export to Parquet (with its bar) and read it back: every row, exact decimals.
    exported_path = tmp_path / "export.parquet"
    exported = run(target, "--json", "--progress", "projects", "export", str(exported_path),
                   "--filter", 'project_name = "Imported*"')
    assert ok_json(exported)["row_count"] == ROWS
    assert "export export.parquet" in exported.stderr and "rows/s" in exported.stderr
    parquet = pq.read_table(exported_path)
    assert parquet.num_rows == ROWS
    assert str(parquet.schema.field("total_amount").type) == "decimal128(20, 2)"
    assert pc.sum(parquet.column("total_amount")).as_py() == expected_sum
    assert sorted(pc.unique(parquet.column("currency_code")).to_pylist()) == ["EUR"]
    assert not (tmp_path / "export.parquet.part").exists()

    # Delete, then the project is gone (NOT_FOUND has its own exit code).
    deleted = run(target, "projects", "delete", solar["name"])
    assert deleted.returncode == 0 and f"deleted {solar['name']}" in deleted.stdout
    missing = run(target, "projects", "get", solar["name"])
    assert missing.returncode == exit_codes.NOT_FOUND
    assert missing.stderr.splitlines()[0] == (
        f"error: NOT_FOUND (PROJECT_NOT_FOUND): project {solar['name']} does not exist")

    # Admin commands with the generated admin token, from a file or the environment.
    tables = ok_json(run(target, "--json", "--token-file", token_file, "admin", "tables", "list"))
    assert tables["tables"][0]["name"] == "tables/projects"
    assert tables["tables"][0]["row_count"] == ROWS + 2
    level = ok_json(run(target, "--json", "admin", "log-level", "get", DUCKDB_SPAWN_TOKEN=server[0].admin_token))
    assert level["level"] in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}


def test_cli_exit_codes_per_error_class(server: tuple[InProcessServer, Stubs], tmp_path: Path) -> None:
    target = server[0].target

    invalid = run(target, "projects", "create", "--set", "project_name=x", "--set", "currency_code=EURO")
    assert invalid.returncode == exit_codes.INVALID_INPUT == 3
    lines = invalid.stderr.splitlines()
    assert lines[0] == "error: INVALID_ARGUMENT (INVALID_ATTRIBUTES): 5 attributes failed validation"
    assert "  - attributes.currency_code: at most 3 characters for CHAR(3), got 4 [TOO_LONG]" in lines
    assert "  - attributes.total_amount: is required [REQUIRED]" in lines
    assert invalid.stdout == ""

    as_json = run(target, "--json", "projects", "create", "--set", "project_name=x")
    assert as_json.returncode == 3
    error = json.loads(as_json.stdout)["error"]
    assert error["code"] == "INVALID_ARGUMENT" and error["reason"] == "INVALID_ATTRIBUTES"
    assert {v["field"] for v in error["field_violations"]} >= {"attributes.total_amount", "attributes.dscr"}

    bad_filter = run(target, "projects", "list", "--filter", "status = = 1")
    assert bad_filter.returncode == 3 and "  - filter:" in bad_filter.stderr

    not_found = run(target, "projects", "delete", "projects/3f2b8c1e-4d5a-4e6f-8a7b-9c0d1e2f3a4b")
    assert not_found.returncode == exit_codes.NOT_FOUND == 4

    anonymous = run(target, "admin", "tables", "list")
    assert anonymous.returncode == exit_codes.UNAUTHENTICATED == 8
    assert anonymous.stderr.startswith("error: UNAUTHENTICATED (MISSING_CREDENTIALS)")
    wrong = run(target, "--token", "not-the-token-0123456789", "projects", "list")
    assert wrong.returncode == 8 and "INVALID_TOKEN" in wrong.stderr

    usage = run(target, "projects", "update", "projects/3f2b8c1e-4d5a-4e6f-8a7b-9c0d1e2f3a4b")
    assert usage.returncode == exit_codes.USAGE == 2 and "nothing to update" in usage.stderr
    unknown_format = run(target, "projects", "export", str(tmp_path / "out.xlsx"))
    assert unknown_format.returncode == 2

    bad_csv = tmp_path / "bad.csv"
    bad_csv.write_text("project_name,total_amount,maturity_years,expected_tri,dscr\nBad,10.00,soon,1.00,1.00\n")
    unreadable = run(target, "projects", "import", str(bad_csv))
    assert unreadable.returncode == exit_codes.INVALID_INPUT
    # Arrow's own words, naming the column and the row (the file is read without a read-ahead thread).
    assert unreadable.stderr.startswith(
        "error: In CSV column #2: Row #2: CSV conversion error to int32: invalid value 'soon'")

    unreachable = run("127.0.0.1:1", "--timeout", "1", "projects", "list")
    assert unreachable.returncode == exit_codes.UNAVAILABLE == 11 and "UNAVAILABLE" in unreachable.stderr

    healthy = run(target, "health")
    assert healthy.returncode == 0 and "readiness SERVING" in healthy.stdout


def test_cli_best_effort_import_reports_rejected_rows(server: tuple[InProcessServer, Stubs], tmp_path: Path) -> None:
    source = tmp_path / "mixed.jsonl"
    source.write_text("\n".join([
        '{"project_name": "ok", "total_amount": 12.50, "maturity_years": 3, "expected_tri": 1.5, "dscr": 1.1}',
        '{"project_name": "bad", "total_amount": 12.505, "maturity_years": 3, "expected_tri": 1.5, "dscr": 1.1}',
    ]) + "\n")
    result = run(server[0].target, "projects", "import", str(source), "--mode", "best-effort")
    assert result.returncode == exit_codes.INVALID_INPUT
    assert "received 2, imported 1, rejected 1" in result.stdout
    assert "total_amount" in result.stdout  # the rejected row's violation is listed


def test_cli_admin_commands(server: tuple[InProcessServer, Stubs]) -> None:
    target, token = server[0].target, server[0].admin_token or ""

    def admin(*args: str) -> subprocess.CompletedProcess[str]:
        return run(target, "--json", "admin", *args, DUCKDB_SPAWN_TOKEN=token)

    assert ok_json(admin("tables", "get", "projects"))["protected"] is True
    assert ok_json(admin("tables", "create"))["results"] == [{"table": "tables/projects", "created": False}]
    assert ok_json(admin("log-level", "set", "debug")) == {"level": "DEBUG"}
    assert ok_json(admin("log-level", "get")) == {"level": "DEBUG"}

    schema_and_tables = {
        ("schema", "get"): ("duckdb_spawn.v1.AdminService/GetSchema", exit_codes.OK),
        ("schema", "refresh"): ("duckdb_spawn.v1.AdminService/RefreshSchemas", exit_codes.OK),
        ("tables", "update", "projects", "--dry-run"): ("duckdb_spawn.v1.AdminService/UpdateTable", exit_codes.OK),
        ("tables", "delete", "archive"): ("duckdb_spawn.v1.AdminService/DeleteTable", exit_codes.NOT_FOUND),
    }
    for args, (method, expected) in schema_and_tables.items():
        result = admin(*args)
        assert result.returncode == expected, (method, args, result.returncode, result.stderr)

    reader = run(target, "admin", "tables", "list", DUCKDB_SPAWN_TOKEN="not-a-token-0123456789")
    assert reader.returncode == exit_codes.UNAUTHENTICATED


def test_cli_exit_codes_for_roles_and_duplicates(tmp_path: Path) -> None:
    tokens = write_tokens_file(tmp_path / "tokens.json")
    with in_process_server(tmp_path / "data" / "roles.duckdb", AUTH_TOKENS_FILE=str(tmp_path / "tokens.json"),
                           AUTH_REQUIRED="true") as (server, _):
        target = server.target
        create = ["projects", "create", "--id", "3f2b8c1e-4d5a-4e6f-8a7b-9c0d1e2f3a4b", "--set", "project_name=P",
                  "--set", "total_amount=1.00", "--set", "maturity_years=1", "--set", "expected_tri=1",
                  "--set", "dscr=1"]
        assert run(target, *create).returncode == exit_codes.UNAUTHENTICATED  # AUTH_REQUIRED: no anonymous role
        denied = run(target, "--token", tokens["reader"], *create)
        assert denied.returncode == exit_codes.PERMISSION_DENIED == 9, denied.stderr
        assert denied.stderr.startswith("error: PERMISSION_DENIED (INSUFFICIENT_ROLE)")
        assert run(target, "--token", tokens["writer"], *create).returncode == exit_codes.OK
        duplicate = run(target, "--token", tokens["writer"], *create)
        assert duplicate.returncode == exit_codes.ALREADY_EXISTS == 5, duplicate.stderr
        listed = run(target, "--json", "--token", tokens["reader"], "projects", "list")
        assert ok_json(listed)["total_size"] == 1
