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


def start(command: list[str] | None, env: dict[str, str], *, ours: bool) -> ServerProcess:
    process = ServerProcess(env, command=command)
    if ours:  # our server logs at WARNING here (access logs would tax both sides): no port line
        process.grpc_port = int(env["GRPC_PORT"])
        channel = grpc.insecure_channel(process.target)
        process.wait_ready(Stubs(channel), timeout=60)
        channel.close()
    else:
        process.wait_serving()
    return process


def start_ours(workdir: Path, args: argparse.Namespace, extra_env: dict[str, str], stage: str | None = None,
               ) -> ServerProcess:
    env = base_env(workdir / f"{stage or 'bench'}.duckdb", GRPC_PORT=str(free_port()),
                   GRPC_MAX_WORKERS=str(args.workers), LOG_LEVEL="WARNING", **extra_env)
    if stage is None:
        return start(None, env, ours=True)
    return start([sys.executable, "-m", "tests.benchmarks.staged_server"], {**env, "BENCH_STAGE": stage},
                 ours=True)


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
    parser.add_argument("--stages", nargs="?", const="all", metavar="STAGE,...",
                        help="CreateProject at the first --concurrency level with parts of our server "
                             "switched off (tests/benchmarks/staged_server.py), instead of the main table")
    args = parser.parse_args()
    extra_env = dict(item.split("=", 1) for item in args.server_env)
    workdir = Path(tempfile.mkdtemp(prefix="bench-"))
    echo = start([sys.executable, "-m", "tests.benchmarks.echo_server", "--workers", str(args.workers)], {},
                 ours=False)
    try:
        if args.stages:
            print_stages(measure_stages(echo, workdir, args, extra_env))
        else:
            print_table(measure_table(echo, workdir, args, extra_env), args)
    finally:
        echo.close()
    return 0


def measure_table(echo: ServerProcess, workdir: Path, args: argparse.Namespace,
                  extra_env: dict[str, str]) -> dict[tuple[str, str, int], list[Result]]:
    ours = start_ours(workdir, args, extra_env)
    results: dict[tuple[str, str, int], list[Result]] = {}
    try:
        names = {"echo": ["projects/x"], "ours": seed_names(ours.target, 200)}
        for method in args.methods.split(","):
            for concurrency in (int(c) for c in args.concurrency.split(",")):
                calls = args.calls if concurrency > 1 else max(200, args.calls // 5)
                # Alternate the two servers so drifting machine load hits both alike.
                for _ in range(args.rounds):
                    for label, process in (("echo", echo), ("ours", ours)):
                        results.setdefault((label, method, concurrency), []).append(asyncio.run(
                            drive(process.target, method, concurrency, calls, names[label])))
    finally:
        ours.close()
    return results


def print_table(results: dict[tuple[str, str, int], list[Result]], args: argparse.Namespace) -> None:
    print(f"{'method':8} {'in flight':>9} {'echo rps':>9} {'ours rps':>9} {'ratio':>6} "
          f"{'echo p50':>9} {'ours p50':>9} {'echo p99':>9} {'ours p99':>9}")
    for method in args.methods.split(","):
        for concurrency in (int(c) for c in args.concurrency.split(",")):
            e = median_result(results[("echo", method, concurrency)])
            o = median_result(results[("ours", method, concurrency)])
            print(f"{method:8} {concurrency:>9} {e.throughput:>9.0f} {o.throughput:>9.0f} "
                  f"{o.throughput / e.throughput:>6.2f} "
                  f"{e.percentile(0.5) * 1e3:>7.2f}ms {o.percentile(0.5) * 1e3:>7.2f}ms "
                  f"{e.percentile(0.99) * 1e3:>7.2f}ms {o.percentile(0.99) * 1e3:>7.2f}ms")


def measure_stages(echo: ServerProcess, workdir: Path, args: argparse.Namespace,
                   extra_env: dict[str, str]) -> list[tuple[str, Result, Result]]:
    """Per stage: (stage, echo, ours), each the median of rounds alternating with echo."""
    from tests.benchmarks.staged_server import STAGES

    concurrency = int(args.concurrency.split(",")[0])
    chosen = STAGES if args.stages == "all" else tuple(args.stages.split(","))
    unknown = set(chosen) - set(STAGES)
    if unknown:
        raise SystemExit(f"unknown stage(s) {', '.join(sorted(unknown))}; known: {', '.join(STAGES)}")
    measured = []
    for stage in chosen:
        ours = start_ours(workdir, args, extra_env, stage)
        runs: dict[str, list[Result]] = {"echo": [], "ours": []}
        try:
            for _ in range(args.rounds):
                for label, process in (("echo", echo), ("ours", ours)):
                    runs[label].append(asyncio.run(drive(process.target, "create", concurrency, args.calls, [])))
        finally:
            ours.close()
        measured.append((stage, median_result(runs["echo"]), median_result(runs["ours"])))
    return measured


def print_stages(measured: list[tuple[str, Result, Result]]) -> None:
    print(f"{'CreateProject stage':20} {'echo rps':>9} {'ours rps':>9} {'ratio':>6} {'ours p50':>9}")
    for stage, e, o in measured:
        print(f"{stage:20} {e.throughput:>9.0f} {o.throughput:>9.0f} {o.throughput / e.throughput:>6.2f} "
              f"{o.percentile(0.5) * 1e3:>7.2f}ms")


def median_result(runs: list[Result]) -> Result:
    return sorted(runs, key=lambda r: r.throughput)[len(runs) // 2]


if __name__ == "__main__":
    sys.exit(main())
