"""Unary RPCs against the bare gRPC ceiling of the same contract (`make bench`).

The ceiling parses the real request and answers canned bytes of our real
response (tests/benchmarks/ceiling_server.py), served once by grpc's sync
server (16 threads) and once by grpc.aio; the faster is the baseline. Our
server runs as shipped: default configuration, so authentication, metrics
and the access log (one JSON line per call, to a file here) are all on.
One grpc.aio client sends pre-serialized requests to all three, so the
client's own cost is the same on every side. Each row alternates the three
servers for `--rounds` rounds and reports medians; ratios are throughput
ours / ceiling, measured in the same run because absolute figures on a
shared machine mean little. Bounded: every phase is a fixed number of calls.

    python -m tests.benchmarks.bench_unary [--calls 3000] [--rounds 3] [--rows create/32,get/1]
    python -m tests.benchmarks.bench_unary --stages --rows create/32   # where the time goes

`--stages` runs each row against our server with parts switched off
(tests/benchmarks/staged_server.py), each stage alternating with the ceilings.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import grpc
from duckdb_spawn.v1 import project_service_pb2 as pb

from tests.support.rpc import create_request
from tests.support.servers import REPO, ServerProcess, Stubs, base_env, free_port, wait_until

LIST_REQUEST = pb.ListProjectsRequest(page_size=50, filter='status = "ACTIVE" AND total_amount > 1000',
                                      order_by="total_amount desc")
# (method, calls in flight, target ratio to the ceiling) - the table.
ROWS = {"create/32": ("CreateProject", 32, 0.4), "create/1": ("CreateProject", 1, 0.15),
        "get/32": ("GetProject", 32, 0.5), "get/1": ("GetProject", 1, 0.5), "list/8": ("ListProjects", 8, 0.4)}
SEEDED = 2000


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


def requests_for(method: str, count: int, names: list[str], tag: str) -> list[bytes]:
    if method == "CreateProject":
        return [create_request(project_name=f"bench {tag} {i}").SerializeToString() for i in range(count)]
    if method == "GetProject":
        return [pb.GetProjectRequest(name=names[i % len(names)]).SerializeToString() for i in range(count)]
    return [LIST_REQUEST.SerializeToString()] * count


async def drive(target: str, method: str, concurrency: int, bodies: list[bytes]) -> Result:
    async with grpc.aio.insecure_channel(target) as channel:
        call = channel.unary_unary(f"/duckdb_spawn.v1.ProjectService/{method}")
        for body in bodies[:50]:  # warm-up: connection, caches
            await call(body, timeout=60)
        queue = iter(bodies[50:])
        latencies: list[float] = []

        async def worker() -> None:
            for body in queue:
                start = time.perf_counter()
                await call(body, timeout=60)
                latencies.append(time.perf_counter() - start)

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return Result(len(bodies) - 50, time.perf_counter() - start, latencies)


class OurServer:
    """`python -m duckdb_spawn_server` as shipped, its log lines going to a file (as a container's would)."""

    def __init__(self, workdir: Path, extra_env: dict[str, str], stage: str | None = None,
                 canned: bytes = b"") -> None:
        self.port = free_port()
        name = stage or "bench"
        env = {**os.environ, **base_env(workdir / f"{name}.duckdb", GRPC_PORT=str(self.port),
                                        LOG_LEVEL=os.environ.get("BENCH_LOG_LEVEL", "INFO")), **extra_env}
        command = [sys.executable, "-m", "duckdb_spawn_server"]
        if stage is not None:
            env.update(BENCH_STAGE=stage, BENCH_CANNED_HEX=canned.hex())
            command = [sys.executable, "-m", "tests.benchmarks.staged_server"]
        self.log = open(workdir / f"{name}.log", "w")  # closed in close()
        self.proc = subprocess.Popen(command, env=env, cwd=REPO, stdout=self.log, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        self.target = f"127.0.0.1:{self.port}"
        channel = grpc.insecure_channel(self.target)
        stubs = Stubs(channel)

        def ready() -> bool:
            if self.proc.poll() is not None:
                raise AssertionError(f"our server exited with {self.proc.returncode}")
            try:
                return stubs.health_status() == 1
            except grpc.RpcError:
                return False

        wait_until(ready, 60, "our server to be ready")
        channel.close()

    def close(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)
        self.log.close()


def seed(target: str) -> tuple[list[str], dict[str, bytes]]:
    """Projects to read and list, and our real responses for the ceiling to answer with."""
    channel = grpc.insecure_channel(target)
    stubs = Stubs(channel)
    names: list[str] = []
    for start in range(0, SEEDED, 500):
        batch = pb.BatchCreateProjectsRequest(requests=[
            create_request(project_name=f"seed {i}", total_amount=f"{(i * 7919) % 5_000_000}.50",
                           status=("ACTIVE", "PROPOSED", "COMPLETED")[i % 3]) for i in range(start, start + 500)])
        names += [p.name for p in stubs.projects.BatchCreateProjects(batch, timeout=60).projects]
    raw = {method: channel.unary_unary(f"/duckdb_spawn.v1.ProjectService/{method}")
           for method in ("CreateProject", "GetProject", "ListProjects")}
    responses = {
        "CreateProject": raw["CreateProject"](create_request(project_name="bench canned").SerializeToString()),
        "GetProject": raw["GetProject"](pb.GetProjectRequest(name=names[0]).SerializeToString()),
        "ListProjects": raw["ListProjects"](LIST_REQUEST.SerializeToString()),
    }
    channel.close()
    assert len(pb.ListProjectsResponse.FromString(responses["ListProjects"]).projects) == 50
    return names, responses


def start_ceiling(runtime: str, responses_file: Path) -> ServerProcess:
    server = ServerProcess({}, command=[sys.executable, "-m", "tests.benchmarks.ceiling_server", "--runtime",
                                        runtime, "--workers", "16", "--responses", str(responses_file)])
    server.wait_serving()
    return server


def measure(rows: list[str], calls: int, rounds: int, extra_env: dict[str, str]) -> list[dict[str, object]]:
    workdir = Path(tempfile.mkdtemp(prefix="bench-unary-"))
    ours = OurServer(workdir, extra_env)
    ceilings: list[ServerProcess] = []
    try:
        names, responses = seed(ours.target)
        responses_file = workdir / "responses.json"
        responses_file.write_text(json.dumps({method: data.hex() for method, data in responses.items()}))
        ceilings = [start_ceiling("sync", responses_file), start_ceiling("aio", responses_file)]
        targets = {"sync": ceilings[0].target, "aio": ceilings[1].target, "ours": ours.target}
        table = []
        for row in rows:
            method, concurrency, target = ROWS[row]
            count = calls if concurrency > 1 else max(300, calls // 4)
            runs: dict[str, list[Result]] = {label: [] for label in targets}
            for round_number in range(rounds):  # alternate, so drifting machine load hits all alike
                for label, address in targets.items():
                    bodies = requests_for(method, count + 50, names, f"{row} {label} {round_number}")
                    runs[label].append(asyncio.run(drive(address, method, concurrency, bodies)))
            medians = {label: median(results) for label, results in runs.items()}
            ceiling = max(medians["sync"].throughput, medians["aio"].throughput)
            table.append({"row": row, "method": method, "in_flight": concurrency, "target": target,
                          "sync": medians["sync"], "aio": medians["aio"], "ours": medians["ours"],
                          "ratio": medians["ours"].throughput / ceiling})
        return table
    finally:
        for server in ceilings:
            server.close()
        ours.close()


def measure_stages(rows: list[str], calls: int, rounds: int, extra_env: dict[str, str],
                   chosen: list[str]) -> list[dict[str, object]]:
    """Per row and stage: our staged server against the better ceiling, alternating, medians."""
    workdir = Path(tempfile.mkdtemp(prefix="bench-stages-"))
    first = OurServer(workdir, extra_env)
    try:
        names, responses = seed(first.target)
    finally:
        first.close()
    responses_file = workdir / "responses.json"
    responses_file.write_text(json.dumps({method: data.hex() for method, data in responses.items()}))
    ceilings = [start_ceiling("sync", responses_file), start_ceiling("aio", responses_file)]
    table = []
    try:
        for row in rows:
            method, concurrency, target = ROWS[row]
            count = calls if concurrency > 1 else max(300, calls // 4)
            for stage in chosen:
                ours = OurServer(workdir, extra_env, stage, responses[method])
                try:
                    reads = method != "CreateProject" and stage not in ("pipeline-only", "bare")
                    stage_names = seed(ours.target)[0] if reads else names
                    targets = {"sync": ceilings[0].target, "aio": ceilings[1].target, "ours": ours.target}
                    runs: dict[str, list[Result]] = {label: [] for label in targets}
                    for round_number in range(rounds):
                        for label, address in targets.items():
                            bodies = requests_for(method, count + 50, stage_names, f"{row} {stage} {round_number}")
                            runs[label].append(asyncio.run(drive(address, method, concurrency, bodies)))
                finally:
                    ours.close()
                medians = {label: median(results) for label, results in runs.items()}
                ceiling = max(medians["sync"].throughput, medians["aio"].throughput)
                table.append({"row": f"{row} {stage}", "method": f"{method} [{stage}]", "in_flight": concurrency,
                              "target": target, "sync": medians["sync"], "aio": medians["aio"],
                              "ours": medians["ours"], "ratio": medians["ours"].throughput / ceiling})
        return table
    finally:
        for server in ceilings:
            server.close()


def median(results: list[Result]) -> Result:
    return sorted(results, key=lambda r: r.throughput)[len(results) // 2]


def print_table(table: list[dict[str, object]]) -> None:
    print(f"{'what':30} {'in flight':>9} {'sync rps':>9} {'aio rps':>9} {'ours rps':>9} {'ratio':>6} "
          f"{'target':>7} {'ours p50':>9} {'ours p99':>9} {'ceiling p50':>11}")
    for entry in table:
        sync, aio, ours = entry["sync"], entry["aio"], entry["ours"]
        assert isinstance(sync, Result) and isinstance(aio, Result) and isinstance(ours, Result)
        best = sync if sync.throughput >= aio.throughput else aio
        verdict = "ok" if float(entry["ratio"]) >= float(entry["target"]) else "MISSED"  # type: ignore[arg-type]
        print(f"{entry['method']:30} {entry['in_flight']:>9} {sync.throughput:>9.0f} {aio.throughput:>9.0f} "
              f"{ours.throughput:>9.0f} {entry['ratio']:>6.2f} {'>=' + str(entry['target']):>7} "
              f"{ours.percentile(0.5) * 1e3:>7.2f}ms {ours.percentile(0.99) * 1e3:>7.2f}ms "
              f"{best.percentile(0.5) * 1e3:>9.2f}ms  {verdict}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=3000, help="calls per phase at 8 or more in flight")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds; medians are shown")
    parser.add_argument("--rows", default=",".join(ROWS), help=f"comma-separated, of: {', '.join(ROWS)}")
    parser.add_argument("--server-env", action="append", default=[], metavar="NAME=VALUE",
                        help="extra environment for our server (tuning experiments)")
    parser.add_argument("--stages", nargs="?", const="all", metavar="STAGE,...",
                        help="each row with parts of our server switched off (tests/benchmarks/staged_server.py)")
    args = parser.parse_args()
    rows = args.rows.split(",")
    unknown = set(rows) - set(ROWS)
    if unknown:
        parser.error(f"unknown rows {sorted(unknown)}")
    extra_env = dict(item.split("=", 1) for item in args.server_env)
    if args.stages:
        from tests.benchmarks.staged_server import STAGES

        chosen = list(STAGES) if args.stages == "all" else args.stages.split(",")
        if set(chosen) - set(STAGES):
            parser.error(f"unknown stages {sorted(set(chosen) - set(STAGES))}; known: {', '.join(STAGES)}")
        print_table(measure_stages(rows, args.calls, args.rounds, extra_env, chosen))
    else:
        print_table(measure(rows, args.calls, args.rounds, extra_env))
    return 0


if __name__ == "__main__":
    sys.exit(main())
