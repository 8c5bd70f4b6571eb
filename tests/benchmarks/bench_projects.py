"""CreateProject and GetProject throughput and latency, as ratios to a bare gRPC echo server.

Run: `make bench` (or `python -m tests.benchmarks.bench_projects`). Both
servers run as subprocesses on this machine, driven by the same asyncio
client in alternating rounds (median shown); each figure is printed with its
ratio to the echo baseline measured in the same run, because absolute
numbers on a shared machine mean little. Bounded: each phase runs a fixed
number of calls. Our server runs at LOG_LEVEL=WARNING: at INFO it writes an
access-log line per RPC, which costs both it and the benchmark's reader.
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import grpc
from duckdb_spawn.v1 import project_service_pb2 as pb
from duckdb_spawn.v1 import project_service_pb2_grpc as pb_grpc

from tests.support.rpc import create_request
from tests.support.servers import ServerProcess, Stubs, base_env


@dataclass
class Result:
    calls: int
    seconds: float
    latencies: list[float]

    @property
    def throughput(self) -> float:
        return self.calls / self.seconds

    def percentile(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def drive(target: str, method: str, concurrency: int, calls: int, names: list[str]) -> Result:
    async with grpc.aio.insecure_channel(target) as channel:
        stub = pb_grpc.ProjectServiceStub(channel)
        requests = [create_request(project_name=f"bench {i}") for i in range(calls)] if method == "create" else \
            [pb.GetProjectRequest(name=names[i % len(names)]) for i in range(calls)]
        call = stub.CreateProject if method == "create" else stub.GetProject
        for request in requests[: min(50, calls)]:  # warm-up
            await call(request)
        latencies: list[float] = []
        queue = iter(requests)

        async def worker() -> None:
            for request in queue:
                start = time.perf_counter()
                await call(request)
                latencies.append(time.perf_counter() - start)

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return Result(calls, time.perf_counter() - start, latencies)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start(command: list[str] | None, env: dict[str, str]) -> ServerProcess:
    process = ServerProcess(env, command=command)
    if command is None:  # our server logs at WARNING here (access logs would tax both sides): no port line
        process.grpc_port = int(env["GRPC_PORT"])
        channel = grpc.insecure_channel(process.target)
        process.wait_ready(Stubs(channel), timeout=60)
        channel.close()
    else:
        process.wait_serving()
    return process


def seed_names(target: str, count: int) -> list[str]:
    channel = grpc.insecure_channel(target)
    stubs = Stubs(channel)
    names = [stubs.projects.CreateProject(create_request(project_name=f"seed {i}")).name for i in range(count)]
    channel.close()
    return names


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=3000, help="calls per phase")
    parser.add_argument("--rounds", type=int, default=3, help="alternating echo/ours rounds; medians are shown")
    parser.add_argument("--workers", type=int, default=64, help="server threads (both servers)")
    parser.add_argument("--methods", default="create,get", help="comma-separated: create, get")
    parser.add_argument("--concurrency", default="1,8,32", help="comma-separated calls in flight")
    parser.add_argument("--server-env", action="append", default=[], metavar="NAME=VALUE",
                        help="extra environment for our server (tuning experiments)")
    args = parser.parse_args()
    methods = tuple(args.methods.split(","))
    levels = tuple(int(c) for c in args.concurrency.split(","))
    extra_env = dict(item.split("=", 1) for item in args.server_env)
    workdir = Path(tempfile.mkdtemp(prefix="bench-"))
    echo = start([sys.executable, "-m", "tests.benchmarks.echo_server", "--workers", str(args.workers)], {})
    ours = start(None, base_env(workdir / "bench.duckdb", GRPC_PORT=str(free_port()),
                                GRPC_MAX_WORKERS=str(args.workers), LOG_LEVEL="WARNING", **extra_env))
    results: dict[tuple[str, str, int], list[Result]] = {}
    try:
        names = {"echo": ["projects/x"], "ours": seed_names(ours.target, 200)}
        for method in methods:
            for concurrency in levels:
                calls = args.calls if concurrency > 1 else max(200, args.calls // 5)
                # Alternate the two servers so drifting machine load hits both alike.
                for _ in range(args.rounds):
                    for label, process in (("echo", echo), ("ours", ours)):
                        results.setdefault((label, method, concurrency), []).append(asyncio.run(
                            drive(process.target, method, concurrency, calls, names[label])))
    finally:
        echo.close()
        ours.close()
    print(f"{'method':8} {'in flight':>9} {'echo rps':>9} {'ours rps':>9} {'ratio':>6} "
          f"{'echo p50':>9} {'ours p50':>9} {'echo p99':>9} {'ours p99':>9}")
    for method in methods:
        for concurrency in levels:
            e = median_result(results[("echo", method, concurrency)])
            o = median_result(results[("ours", method, concurrency)])
            print(f"{method:8} {concurrency:>9} {e.throughput:>9.0f} {o.throughput:>9.0f} "
                  f"{o.throughput / e.throughput:>6.2f} "
                  f"{e.percentile(0.5) * 1e3:>7.2f}ms {o.percentile(0.5) * 1e3:>7.2f}ms "
                  f"{e.percentile(0.99) * 1e3:>7.2f}ms {o.percentile(0.99) * 1e3:>7.2f}ms")
    return 0


def median_result(runs: list[Result]) -> Result:
    return sorted(runs, key=lambda r: r.throughput)[len(runs) // 2]


if __name__ == "__main__":
    sys.exit(main())
