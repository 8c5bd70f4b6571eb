"""Bulk RPCs against raw DuckDB doing the same work on the same rows (`make bench`, after the unary table).

Each row runs our server (a subprocess, as shipped, with DUCKDB_MEMORY_LIMIT set so the memory
bound can be read off) and raw DuckDB 1.5.5 (tests/benchmarks/raw_duckdb.py, a process of its
own) in alternating rounds, and shows medians, the ratio and the peak RSS of each side during
the operation (ours sampled every 20 ms; raw DuckDB's from getrusage):

- imports, as throughput ratios ours / raw (raw: one Arrow insert of the same rows): Struct rows
  500 per message, and Arrow batches of 10,000 rows per message;
- exports of the whole table in each format, as time ratios ours / raw (raw: DuckDB's own COPY
  writer, or its Arrow stream for IPC);
- at 1M rows, a ListProjects page of 100 with a filter and order_by (time ours / the raw page
  query) and a SummarizeProjects (time ours / the raw GROUP BY).

    python -m tests.benchmarks.bench_bulk [--sizes 200000,1000000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import grpc
import psutil
import pyarrow as pa
from duckdb_spawn.v1 import admin_service_pb2 as admin_pb
from duckdb_spawn.v1 import project_service_pb2 as pb

from tests.support.auth import bearer, generated_admin_token
from tests.support.servers import REPO, Stubs, base_env, free_port, wait_until

MEMORY_LIMIT_MB = 512
LIST_FILTER = 'status = "ACTIVE" AND total_amount > 1000000'
LIST_ORDER = "total_amount desc"
RAW_WHERE = "status = 'ACTIVE' AND total_amount > 1000000"
PAGE_SIZE = 100
WALK_PAGES = 10
RAW_SUMMARY = "SELECT status, count(*), sum(total_amount), avg(dscr) FROM projects GROUP BY status ORDER BY status"
FORMATS = {"jsonl": pb.EXPORT_FORMAT_JSONL, "arrow": pb.EXPORT_FORMAT_ARROW_IPC, "csv": pb.EXPORT_FORMAT_CSV,
           "parquet": pb.EXPORT_FORMAT_PARQUET}


def rows_table(count: int, seed: int = 7) -> pa.Table:
    """`count` valid projects, as an analyst's Arrow file would hold them."""
    rng = random.Random(seed)
    statuses = ("PROPOSED", "ACTIVE", "COMPLETED")
    base = date(2020, 1, 1)
    return pa.table({
        "project_name": [f"Project {i}" for i in range(count)],
        "description": [f"{rng.choice(('Solar', 'Wind', 'Hydro', 'Grid'))} plant number {i}" for i in range(count)],
        "total_amount": pa.array([Decimal(rng.randrange(1, 10**9)) / 100 for _ in range(count)],
                                 pa.decimal128(20, 2)),
        "maturity_years": pa.array([rng.randrange(1, 40) for _ in range(count)], pa.int32()),
        "expected_tri": pa.array([Decimal(rng.randrange(0, 2000)) / 100 for _ in range(count)], pa.decimal128(5, 2)),
        "dscr": pa.array([Decimal(rng.randrange(100, 300)) / 100 for _ in range(count)], pa.decimal128(5, 2)),
        "status": [statuses[i % 3] for i in range(count)],
        "creation_date": pa.array([base + timedelta(days=i % 2000) for i in range(count)], pa.date32()),
        "last_updated": pa.array([datetime(2026, 1, 1) + timedelta(seconds=i) for i in range(count)],
                                 pa.timestamp("us")),
        "currency_code": [("EUR", "USD", "GBP")[i % 3] for i in range(count)],
    })


def ipc(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue().to_pybytes()


def arrow_messages(table: pa.Table, per_message: int = 10_000) -> list[bytes]:
    return [pb.ImportProjectsRequest(mode=pb.IMPORT_MODE_ATOMIC,
                                     arrow_ipc=ipc(table.slice(start, per_message))).SerializeToString()
            for start in range(0, table.num_rows, per_message)]


def struct_messages(table: pa.Table, per_message: int = 500) -> list[bytes]:
    """Struct rows as a client sends them: decimals as strings, dates and times as RFC 3339 text."""
    def wire(value: object) -> object:
        if isinstance(value, Decimal):
            return str(value)
        if isinstance(value, datetime):
            return value.isoformat() + "Z"
        if isinstance(value, date):
            return value.isoformat()
        return value

    messages = []
    rows = table.to_pylist()
    for start in range(0, len(rows), per_message):
        message = pb.ImportProjectsRequest(mode=pb.IMPORT_MODE_ATOMIC)
        for row in rows[start:start + per_message]:
            message.struct_rows.rows.add().update({k: wire(v) for k, v in row.items()})
        messages.append(message.SerializeToString())
    return messages


class PeakRss:
    """Samples a process's RSS every 20 ms while a block runs; `peak_mb` afterwards."""

    def __init__(self, pid: int) -> None:
        self._process = psutil.Process(pid)
        self._stop = threading.Event()
        self.peak_mb = 0.0

    def __enter__(self) -> PeakRss:
        self.peak_mb = self._process.memory_info().rss / 2**20
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.wait(0.02):
            self.peak_mb = max(self.peak_mb, self._process.memory_info().rss / 2**20)

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak_mb = max(self.peak_mb, self._process.memory_info().rss / 2**20)


class OurServer:
    def __init__(self, workdir: Path) -> None:
        workdir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        env = {**os.environ, **base_env(workdir / "bulk.duckdb", GRPC_PORT=str(self.port),
                                        DUCKDB_MEMORY_LIMIT=f"{MEMORY_LIMIT_MB}MB",
                                        GRPC_MAX_MESSAGE_BYTES=str(64 * 2**20))}
        self.log = open(workdir / "bulk.log", "w")  # closed in close()
        self.proc = subprocess.Popen([sys.executable, "-m", "duckdb_spawn_server"], env=env, cwd=REPO,
                                     stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        self.channel = grpc.insecure_channel(f"127.0.0.1:{self.port}", options=[
            ("grpc.max_receive_message_length", 64 * 2**20), ("grpc.max_send_message_length", 64 * 2**20)])
        self.stubs = Stubs(self.channel)

        def ready() -> bool:
            if self.proc.poll() is not None:
                raise AssertionError(f"our server exited with {self.proc.returncode}")
            try:
                return self.stubs.health_status() == 1
            except grpc.RpcError:
                return False

        wait_until(ready, 60, "our server to be ready")
        self.admin = bearer(generated_admin_token(workdir / "bulk.duckdb"))

    def empty_table(self) -> None:
        self.stubs.admin.DeleteTable(admin_pb.DeleteTableRequest(name="tables/projects", force=True),
                                     metadata=self.admin, timeout=120)
        self.stubs.admin.CreateTables(admin_pb.CreateTablesRequest(), metadata=self.admin, timeout=120)

    def import_messages(self, messages: list[bytes]) -> tuple[float, float, int]:
        call = self.channel.stream_unary("/duckdb_spawn.v1.ProjectService/ImportProjects",
                                         response_deserializer=pb.ImportProjectsResponse.FromString)
        with PeakRss(self.proc.pid) as rss:
            start = time.perf_counter()
            report = call(iter(messages), timeout=3600)
            seconds = time.perf_counter() - start
        assert report.failed_count == 0, report.errors[:3]
        return seconds, rss.peak_mb, report.imported_count

    def export(self, fmt: str) -> tuple[float, float, int]:
        with PeakRss(self.proc.pid) as rss:
            start = time.perf_counter()
            size = sum(len(c.data) for c in self.stubs.projects.ExportProjects(
                pb.ExportProjectsRequest(format=FORMATS[fmt]), timeout=3600))
            seconds = time.perf_counter() - start
        return seconds, rss.peak_mb, size

    def timed(self, call: Callable[[], object]) -> tuple[float, float]:
        with PeakRss(self.proc.pid) as rss:
            start = time.perf_counter()
            call()
            seconds = time.perf_counter() - start
        return seconds, rss.peak_mb

    def close(self) -> None:
        self.channel.close()
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)
        self.log.close()


def raw(db: Path, action: str, argument: str) -> dict[str, float]:
    """Raw DuckDB in a process of its own, with our server's memory limit and threads."""
    env = {**os.environ, "RAW_MEMORY_LIMIT": f"{MEMORY_LIMIT_MB}MB", "RAW_THREADS": "2"}
    done = subprocess.run([sys.executable, "-m", "tests.benchmarks.raw_duckdb", str(db), action, argument],
                          capture_output=True, text=True, cwd=REPO, timeout=3600, check=True, env=env)
    return json.loads(done.stdout.strip().splitlines()[-1])


@dataclass
class Row:
    what: str
    rows: int
    kind: str  # "throughput" or "time"
    ours: list[tuple[float, float]]  # (seconds, peak RSS MB)
    raw: list[tuple[float, float]]
    target: str

    def line(self) -> str:
        ours_s = statistics.median(s for s, _ in self.ours)
        raw_s = statistics.median(s for s, _ in self.raw)
        ratio = raw_s / ours_s if self.kind == "throughput" else ours_s / raw_s
        rate = f"{self.rows / ours_s:>10,.0f}" if self.kind == "throughput" else f"{'':>10}"
        return (f"{self.what:34} {self.rows:>9,} {ours_s:>8.3f}s {raw_s:>8.3f}s {rate} {ratio:>6.2f} "
                f"{self.target:>8} {max(r for _, r in self.ours):>8.0f} {max(r for _, r in self.raw):>8.0f}")


def rounds_of(count: int, measure: Callable[[], tuple[float, float]]) -> list[tuple[float, float]]:
    return [measure() for _ in range(count)]


def bench_size(size: int, rounds: int, workdir: Path) -> Iterator[Row]:
    table = rows_table(size)
    data_file = workdir / f"rows-{size}.arrows"
    data_file.write_bytes(ipc(table))
    arrow_bodies = arrow_messages(table)
    struct_bodies = struct_messages(table)
    raw_db = workdir / f"raw-{size}.duckdb"
    ours = OurServer(workdir / f"ours-{size}")
    try:
        results: dict[str, tuple[list[tuple[float, float]], list[tuple[float, float]]]] = {}
        for _ in range(rounds):  # alternate ours and raw within each round
            for label, bodies in (("import arrow", arrow_bodies), ("import struct", struct_bodies)):
                ours.empty_table()
                seconds, peak, imported = ours.import_messages(bodies)
                assert imported == size
                loaded = raw(raw_db, "load", str(data_file))
                mine, theirs = results.setdefault(label, ([], []))
                mine.append((seconds, peak))
                theirs.append((loaded["seconds"], loaded["peak_rss_mb"]))
        yield Row("ImportProjects, Arrow 10k/message", size, "throughput", *results["import arrow"], ">= 0.8")
        yield Row("ImportProjects, Struct 500/message", size, "throughput", *results["import struct"], ">= 0.25")
        query = ("SELECT CAST(project_id AS VARCHAR) AS project_id, project_name, description, total_amount, "
                 "maturity_years, expected_tri, dscr, status, creation_date, last_updated, currency_code "
                 "FROM projects")
        for fmt in FORMATS:
            mine_runs, raw_runs = [], []
            for _ in range(rounds):
                seconds, peak, _size = ours.export(fmt)
                mine_runs.append((seconds, peak))
                done = raw(raw_db, f"export-{fmt}", query)
                raw_runs.append((done["seconds"], done["peak_rss_mb"]))
            target = "<= 1.5" if fmt == "jsonl" else "<= 1.2"
            yield Row(f"ExportProjects {fmt}", size, "time", mine_runs, raw_runs, target)
        if size >= 1_000_000:
            yield from _reads(ours, raw_db, size, rounds)
    finally:
        ours.close()


def _reads(ours: OurServer, raw_db: Path, size: int, rounds: int) -> Iterator[Row]:
    list_request = pb.ListProjectsRequest(page_size=PAGE_SIZE, filter=LIST_FILTER, order_by=LIST_ORDER)
    summary = pb.SummarizeProjectsRequest(group_by=["status"], aggregations=[
        pb.Aggregation(function=pb.AGGREGATE_FUNCTION_COUNT),
        pb.Aggregation(function=pb.AGGREGATE_FUNCTION_SUM, field="total_amount"),
        pb.Aggregation(function=pb.AGGREGATE_FUNCTION_AVG, field="dscr")])
    walk = json.dumps({"where": RAW_WHERE, "pages": WALK_PAGES, "page_size": PAGE_SIZE})
    first = json.dumps({"where": RAW_WHERE, "pages": 1, "page_size": PAGE_SIZE})
    for what, call, action, argument in (
            (f"ListProjects, {WALK_PAGES} pages of {PAGE_SIZE}", lambda: _walk(ours, list_request, WALK_PAGES), "walk",
             walk),
            (f"ListProjects, 1st page of {PAGE_SIZE} only", lambda: _walk(ours, list_request, 1), "walk", first),
            ("SummarizeProjects", lambda: ours.stubs.projects.SummarizeProjects(summary, timeout=600), "query",
             RAW_SUMMARY)):
        mine_runs, raw_runs = [], []
        for _ in range(rounds):
            mine_runs.append(ours.timed(call))
            done = raw(raw_db, action, argument)
            raw_runs.append((done["seconds"], done["peak_rss_mb"]))
        yield Row(what, size, "time", mine_runs, raw_runs, "<= 1.2" if "only" not in what else "")


def _walk(ours: OurServer, request: pb.ListProjectsRequest, pages: int) -> None:
    """A fresh query's first `pages` pages (a write first, so nothing from an earlier walk is reused)."""
    ours.stubs.projects.CreateProject(pb.CreateProjectRequest(project=pb.Project(attributes={
        "project_name": "x", "total_amount": "1.00", "maturity_years": 1, "expected_tri": "1.00", "dscr": "1.00"})),
        timeout=60)
    page = pb.ListProjectsRequest()
    page.CopyFrom(request)
    for _ in range(pages):
        response = ours.stubs.projects.ListProjects(page, timeout=600)
        if not response.next_page_token:
            return
        page.page_token = response.next_page_token


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="200000,1000000", help="comma-separated row counts")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="bench-bulk-"))
    print(f"{'what':34} {'rows':>9} {'ours':>9} {'raw':>9} {'rows/s':>10} {'ratio':>6} {'target':>8} "
          f"{'ours MB':>8} {'raw MB':>8}")
    print(f"(peak RSS of our server; DUCKDB_MEMORY_LIMIT={MEMORY_LIMIT_MB}MB)", flush=True)
    for size in (int(s) for s in args.sizes.split(",")):
        for row in bench_size(size, args.rounds, workdir):
            print(row.line(), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
