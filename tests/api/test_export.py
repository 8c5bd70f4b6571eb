"""ExportProjects: every format concatenates into one file that pyarrow and DuckDB read back exactly."""

from __future__ import annotations

import io
import json
import os
from collections.abc import Iterator
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import grpc
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
import pytest
from duckdb_spawn.v1 import project_service_pb2 as pb

from tests.support.rpc import call_error
from tests.support.servers import InProcessServer, Stubs, in_process_server, wait_until

ROWS = 30_000
FORMATS = {"arrow_ipc": pb.EXPORT_FORMAT_ARROW_IPC, "parquet": pb.EXPORT_FORMAT_PARQUET,
           "csv": pb.EXPORT_FORMAT_CSV, "jsonl": pb.EXPORT_FORMAT_JSONL}
SQL_TYPES = {"project_id": "UUID", "project_name": "VARCHAR", "description": "VARCHAR",
             "total_amount": "DECIMAL(20,2)", "maturity_years": "INTEGER", "expected_tri": "DECIMAL(5,2)",
             "dscr": "DECIMAL(5,2)", "status": "VARCHAR", "creation_date": "DATE", "last_updated": "TIMESTAMP",
             "currency_code": "VARCHAR"}
COLUMNS = list(SQL_TYPES)


def source_rows(count: int) -> pa.Table:
    """Amounts with every number of significant digits up to DECIMAL(20,2)'s 18+2, and awkward text."""
    amounts = [f"{max(10 ** (i % 19) - 1 - i % 7, 0)}.{i % 100:02d}" if i % 19 else f"-{i % 1000}.05"
               for i in range(count)]
    return pa.table({
        "project_name": [f'project {i}, "quoted"\nnewline ✓' if i % 1000 == 0 else f"project {i}"
                         for i in range(count)],
        "description": [None if i % 3 == 0 else f"desc; {i}" for i in range(count)],
        "total_amount": amounts,
        "maturity_years": pa.array([i % 50 for i in range(count)], pa.int32()),
        "expected_tri": [f"{i % 1000 - 500}.{i % 10}1" if i % 2 else "999.99" for i in range(count)],
        "dscr": ["-999.99" if i % 5 == 0 else "1.05" for i in range(count)],
        "status": [("PROPOSED", "ACTIVE", "COMPLETED")[i % 3] for i in range(count)],
        "currency_code": [("EUR", "USD", "JPY")[i % 3] for i in range(count)],
    })


def ipc_bytes(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue().to_pybytes()


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[InProcessServer, Stubs]]:
    with in_process_server(tmp_path_factory.mktemp("export") / "export.duckdb") as (server, stubs):
        table = source_rows(ROWS)
        messages = [pb.ImportProjectsRequest(arrow_ipc=ipc_bytes(table.slice(s, 10_000)))
                    for s in range(0, ROWS, 10_000)]
        assert stubs.projects.ImportProjects(iter(messages), timeout=300).imported_count == ROWS
        yield server, stubs


def reference(server: InProcessServer, where: str = "TRUE", order: str | None = None) -> list[dict[str, Any]]:
    """The table's rows read directly from DuckDB: the truth every export must reproduce.

    Without `order`, in storage order: an export that asks for no order is not sorted.
    """
    assert server.app.storage is not None
    con = server.app.storage.database.cursor()
    try:
        order_by = f" ORDER BY {order}" if order else ""
        rows = con.execute(f"SELECT {', '.join(COLUMNS)} FROM projects WHERE {where}{order_by}").fetchall()
    finally:
        con.close()
    return [dict(zip(COLUMNS, (str(v) if k == "project_id" else v for k, v in zip(COLUMNS, row, strict=True)),
                     strict=True)) for row in rows]


def export(stubs: Stubs, fmt: int, **request: Any) -> tuple[bytes, list[pb.ExportProjectsResponse]]:
    chunks = list(stubs.projects.ExportProjects(pb.ExportProjectsRequest(format=fmt, **request), timeout=120))
    return b"".join(c.data for c in chunks), chunks


def read_with_pyarrow(name: str, data: bytes) -> list[dict[str, Any]]:
    if name == "arrow_ipc":
        return pa.ipc.open_stream(data).read_all().to_pylist()
    if name == "parquet":
        return pq.read_table(io.BytesIO(data)).to_pylist()
    if name == "csv":
        types = {"total_amount": pa.decimal128(20, 2), "expected_tri": pa.decimal128(5, 2),
                 "dscr": pa.decimal128(5, 2), "maturity_years": pa.int32(), "creation_date": pa.date32(),
                 "last_updated": pa.timestamp("us"), "project_id": pa.string(), "description": pa.string()}
        options = pa_csv.ConvertOptions(column_types=types, strings_can_be_null=True, quoted_strings_can_be_null=False)
        return pa_csv.read_csv(io.BytesIO(data), parse_options=pa_csv.ParseOptions(newlines_in_values=True),
                               convert_options=options).to_pylist()
    return [_typed_json(json.loads(line)) for line in data.decode().splitlines()]


def _typed_json(row: dict[str, Any]) -> dict[str, Any]:
    """JSON lines carry decimals and times as text: decode them to the column types."""
    for name in ("total_amount", "expected_tri", "dscr"):
        row[name] = Decimal(row[name])
    row["creation_date"] = date.fromisoformat(row["creation_date"])
    row["last_updated"] = datetime.fromisoformat(row["last_updated"].removesuffix("Z"))
    return row


def read_with_duckdb(name: str, data: bytes, tmp_path: Path) -> list[dict[str, Any]]:
    path = tmp_path / f"export.{name}"
    path.write_bytes(data)
    columns = "{" + ", ".join(f"'{k}': '{v}'" for k, v in SQL_TYPES.items()) + "}"
    source = {
        "arrow_ipc": None,
        "parquet": f"read_parquet('{path}')",
        # The dialect is stated, not sniffed: with random ids DuckDB's sniffer sometimes guesses
        # the single quote as the quote character and then fails on RFC 4180 text.
        "csv": f"read_csv('{path}', header = true, delim = ',', quote = '\"', escape = '\"', "
               f"columns = {columns})",
        "jsonl": f"read_json('{path}', format = 'newline_delimited', columns = {columns})",
    }[name]
    con = duckdb.connect()
    try:
        if source is None:
            con.register("exported", pa.ipc.open_stream(data).read_all())
            source = "exported"
        rows = con.execute(f"SELECT {', '.join(f'CAST({c} AS {t}) AS {c}' for c, t in SQL_TYPES.items())} "
                           f"FROM {source}").fetchall()
    finally:
        con.close()
    return [dict(zip(COLUMNS, (str(v) if k == "project_id" else v for k, v in zip(COLUMNS, row, strict=True)),
                     strict=True)) for row in rows]


@pytest.mark.parametrize("name", list(FORMATS))
def test_each_format_round_trips_exactly_through_pyarrow_and_duckdb(
        loaded: tuple[InProcessServer, Stubs], name: str, tmp_path: Path) -> None:
    server, stubs = loaded
    data, chunks = export(stubs, FORMATS[name])
    assert len(chunks) > 1, "a large export arrives in several chunks"
    assert all(len(c.data) <= 1 << 20 for c in chunks), "chunks stay small whatever the export's size"
    assert sum(c.row_count for c in chunks) == ROWS
    expected = reference(server)
    assert len(expected) == ROWS
    readings = (("pyarrow", read_with_pyarrow(name, data)), ("duckdb", read_with_duckdb(name, data, tmp_path)))
    for reader, rows in readings:
        assert len(rows) == len(expected), f"{reader} read {len(rows)} rows, not {len(expected)}"
        first = next((i for i, (got, want) in enumerate(zip(rows, expected, strict=True)) if got != want), None)
        assert first is None, f"{reader}: row {first} differs: {rows[first]} != {expected[first]}"
    assert any(len(r["total_amount"].as_tuple().digits) == 20 for r in expected), "no amount uses all 20 digits"


@pytest.mark.parametrize("name", list(FORMATS))
def test_exports_follow_the_filter_and_ordering(loaded: tuple[InProcessServer, Stubs], name: str) -> None:
    server, stubs = loaded
    data, _ = export(stubs, FORMATS[name], filter='status = "ACTIVE" AND total_amount < 1000',
                     order_by="total_amount desc, project_name")
    expected = reference(server, "status = 'ACTIVE' AND total_amount < 1000",
                         "total_amount DESC NULLS FIRST, project_name ASC NULLS LAST, project_id ASC")
    assert 0 < len(expected) < ROWS
    assert read_with_pyarrow(name, data) == expected


@pytest.mark.parametrize("name", list(FORMATS))
def test_an_empty_export_is_still_a_valid_file(loaded: tuple[InProcessServer, Stubs], name: str,
                                              tmp_path: Path) -> None:
    _, stubs = loaded
    data, _ = export(stubs, FORMATS[name], filter='project_name = "no such project"')
    if name == "jsonl":
        assert data == b""
        return
    assert read_with_pyarrow(name, data) == []
    assert read_with_duckdb(name, data, tmp_path) == []


def test_bad_export_requests_are_invalid_argument(loaded: tuple[InProcessServer, Stubs]) -> None:
    _, stubs = loaded
    for request, field in [(pb.ExportProjectsRequest(format=9), "format"),
                           (pb.ExportProjectsRequest(order_by="nope"), "order_by"),
                           (pb.ExportProjectsRequest(filter="status >"), "filter")]:
        error = call_error(lambda r: list(stubs.projects.ExportProjects(r)), request)
        assert error.code == grpc.StatusCode.INVALID_ARGUMENT
        assert list(error.violations) == [field]


@pytest.mark.parametrize("name", list(FORMATS))
def test_cancelled_exports_give_back_their_connection_and_pipe(loaded: tuple[InProcessServer, Stubs],
                                                               name: str) -> None:
    """More cancelled exports than the pool has connections: none leaks one, and no pipe is left behind."""
    server, stubs = loaded
    for _ in range(12):  # DUCKDB_POOL_SIZE is 8
        call = stubs.projects.ExportProjects(pb.ExportProjectsRequest(format=FORMATS[name]), timeout=60)
        next(call)  # the export has begun: its connection is taken, its pipe made
        call.cancel()
    _, chunks = export(stubs, FORMATS[name])
    assert sum(c.row_count for c in chunks) == ROWS
    assert stubs.projects.ListProjects(pb.ListProjectsRequest(page_size=1), timeout=10).total_size == ROWS
    folder = server.app.settings.duckdb_path
    wait_until(lambda: not list(Path(folder).parent.glob("duckdb-spawn-export-*")), 10, "export pipes to be removed")


def test_export_pipes_left_by_a_crash_are_removed_at_start_up(tmp_path: Path) -> None:
    orphan = tmp_path / "duckdb-spawn-export-abc123"
    orphan.mkdir()
    os.mkfifo(orphan / "rows")
    with in_process_server(tmp_path / "export.duckdb"):
        assert not orphan.exists()
