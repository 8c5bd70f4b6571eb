"""The lake against the embedded file, in the same run (`make bench`, after the bulk table).

    python -m tests.benchmarks.bench_lake [--creates 1500] [--gets 3000] [--rows 100000]

Starts a real PostgreSQL (tests/support/postgres.py, durable: fsync on), then measures each row on
three set-ups, one after the other: the embedded DuckDB file (one process), a
DuckLake with one replica, and the same lake with two replicas (calls spread
over them round-robin). Every server is `python -m duckdb_spawn_server` as
shipped (LOG_LEVEL=WARNING); 16 calls are in flight for the unary rows.
Ratios are against the file, measured in the same run.
"""

from __future__ import annotations

import argparse
import itertools
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from pathlib import Path

import grpc
import pyarrow as pa
from duckdb_spawn.v1 import project_service_pb2 as pb

from tests.benchmarks.bench_bulk import arrow_messages, rows_table
from tests.support.postgres import postgres_server
from tests.support.rpc import create_request
from tests.support.servers import ServerProcess, Stubs, base_env, free_port

IN_FLIGHT = 16


@contextmanager
def servers(directory: Path, count: int, extra: dict[str, str]) -> Iterator[list[Stubs]]:
    with ExitStack() as stack:
        stubs = []
        for index in range(count):
            port = free_port()  # chosen here: at LOG_LEVEL=WARNING the server does not log its port
            env = base_env(directory / f"replica-{index}" / "local.duckdb", LOG_LEVEL="WARNING",
                           GRPC_PORT=str(port), **extra)
            process = ServerProcess(env)
            stack.callback(process.close)
            process.grpc_port = port
            channel = grpc.insecure_channel(process.target)
            stack.callback(channel.close)
            replica = Stubs(channel)
            process.wait_ready(replica, timeout=60)
            stubs.append(replica)
        yield stubs


def rate(calls: int, work: Callable[[int], None]) -> float:
    """Calls per second with IN_FLIGHT at a time."""
    started = time.perf_counter()
    with ThreadPoolExecutor(IN_FLIGHT) as pool:
        list(pool.map(work, range(calls)))
    return calls / (time.perf_counter() - started)


def measure(replicas: list[Stubs], creates: int, gets: int, messages: list[bytes], rows: int) -> dict[str, float]:
    turn = itertools.cycle(range(len(replicas)))
    made: list[str] = []

    def create(_: int) -> None:
        made.append(replicas[next(turn)].projects.CreateProject(create_request(project_id=str(uuid.uuid4())),
                                                                timeout=60).name)

    def get(index: int) -> None:
        replicas[index % len(replicas)].projects.GetProject(pb.GetProjectRequest(name=made[index % len(made)]),
                                                            timeout=60)

    results = {"CreateProject /s": rate(creates, create), "GetProject /s": rate(gets, get)}
    started = time.perf_counter()
    imported = replicas[0].projects.ImportProjects(
        iter(pb.ImportProjectsRequest.FromString(m) for m in messages), timeout=600).imported_count
    assert imported == rows
    results["ImportProjects Arrow rows/s"] = rows / (time.perf_counter() - started)
    summary = pb.SummarizeProjectsRequest(group_by=["status"], aggregations=[
        pb.Aggregation(function=pb.AGGREGATE_FUNCTION_COUNT),
        pb.Aggregation(function=pb.AGGREGATE_FUNCTION_SUM, field="total_amount")])
    results["SummarizeProjects /s"] = rate(40, lambda i: replicas[i % len(replicas)].projects.SummarizeProjects(
        summary, timeout=60) and None)
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--creates", type=int, default=1500)
    parser.add_argument("--gets", type=int, default=3000)
    parser.add_argument("--rows", type=int, default=100_000)
    args = parser.parse_args()
    table: pa.Table = rows_table(args.rows)
    messages = arrow_messages(table)
    workdir = Path(tempfile.mkdtemp(prefix="bench-lake-"))
    columns: dict[str, dict[str, float]] = {}
    with postgres_server(durable=True) as postgres:  # fsync on, as the file's WAL
        lake = {"STORAGE_BACKEND": "ducklake", "LAKE_CATALOG": postgres.conninfo(),
                "LAKE_DATA_PATH": str(workdir / "lake-data"), "LAKE_METADATA_SCHEMA": "bench"}
        for label, count, extra in (("file", 1, {}), ("lake x1", 1, lake), ("lake x2", 2, lake)):
            with servers(workdir / label.replace(" ", "-"), count, extra) as replicas:
                columns[label] = measure(replicas, args.creates, args.gets, messages, args.rows)
            print(f"measured {label}", file=sys.stderr, flush=True)
    print(f"{'what':30} {'file':>10} {'lake x1':>10} {'lake x2':>10} {'x1/file':>8} {'x2/file':>8}")
    for what in columns["file"]:
        base = columns["file"][what]
        one, two = columns["lake x1"][what], columns["lake x2"][what]
        print(f"{what:30} {base:10,.0f} {one:10,.0f} {two:10,.0f} {one / base:8.2f} {two / base:8.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
