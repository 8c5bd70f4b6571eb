"""What the change feed costs (`make bench`): CreateProject with the change log on and off, and idle watchers.

Two servers as shipped, one with CHANGE_LOG=false, alternate for `--rounds`
rounds of the same creates, then of an Arrow import (medians; the ratio on/off
is measured in the same run, so machine load hits both alike). Then idle watchers: WatchProjects
streams open while nothing changes cost the server's cpu over a quiet
interval and GetProject throughput, each against the same server with no
watcher. Bounded: fixed numbers of calls, watchers and seconds.

    python -m tests.benchmarks.bench_changes [--calls 3000] [--rounds 3] [--watchers 100] [--quiet 10]
                                             [--import-rows 200000]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

import grpc
import psutil
from duckdb_spawn.v1 import project_service_pb2 as pb
from duckdb_spawn.v1 import project_service_pb2_grpc as project_grpc

from tests.benchmarks.bench_bulk import arrow_messages, rows_table
from tests.benchmarks.bench_unary import OurServer, Result, drive, median, requests_for, seed


def creates(servers: dict[str, OurServer], calls: int, rounds: int, in_flight: int) -> dict[str, Result]:
    runs: dict[str, list[Result]] = {label: [] for label in servers}
    for round_number in range(rounds):
        for label, server in servers.items():
            bodies = requests_for("CreateProject", calls + 50, [], f"{label} {in_flight} {round_number}")
            runs[label].append(asyncio.run(drive(server.target, "CreateProject", in_flight, bodies)))
    return {label: median(results) for label, results in runs.items()}


def imports(servers: dict[str, OurServer], rows: int, rounds: int) -> dict[str, float]:
    """Median rows/s of one Arrow import of `rows` rows (10,000 a message), alternating the servers."""
    messages = arrow_messages(rows_table(rows))
    runs: dict[str, list[float]] = {label: [] for label in servers}
    for _ in range(rounds):
        for label, server in servers.items():
            with grpc.insecure_channel(server.target) as channel:
                call = channel.stream_unary("/duckdb_spawn.v1.ProjectService/ImportProjects",
                                            response_deserializer=pb.ImportProjectsResponse.FromString)
                began = time.perf_counter()
                response = call(iter(messages), timeout=600)
                runs[label].append(rows / (time.perf_counter() - began))
                assert response.imported_count == rows
    return {label: sorted(values)[len(values) // 2] for label, values in runs.items()}


async def open_watchers(target: str, count: int, opened: asyncio.Event, hold: asyncio.Event) -> None:
    """`count` WatchProjects streams, held open until `hold` is set; `opened` once each got its first response
    (the server counts a watcher before it sends that)."""
    async with grpc.aio.insecure_channel(target) as channel:
        stub = project_grpc.ProjectServiceStub(channel)
        calls = [stub.WatchProjects(pb.WatchProjectsRequest()) for _ in range(count)]
        for call in calls:
            await call.read()
        opened.set()
        await hold.wait()
        for call in calls:
            call.cancel()


def cpu_seconds(server: OurServer, quiet: float) -> float:
    process = psutil.Process(server.proc.pid)
    before = process.cpu_times()
    time.sleep(quiet)  # the measurement itself: the server's cpu over a quiet interval
    after = process.cpu_times()
    return (after.user + after.system) - (before.user + before.system)


def idle_watchers(server: OurServer, names: list[str], watchers: int, calls: int, rounds: int,
                  quiet: float) -> dict[str, float]:
    """cpu seconds over `quiet` seconds and GetProject/32 throughput, without and with idle watchers."""
    figures: dict[str, float] = {}
    bodies = requests_for("GetProject", calls + 50, names, "get")
    figures["cpu_without"] = cpu_seconds(server, quiet)
    without = [asyncio.run(drive(server.target, "GetProject", 32, bodies)) for _ in range(rounds)]

    async def with_watchers() -> tuple[float, list[Result]]:
        opened, hold = asyncio.Event(), asyncio.Event()
        task = asyncio.ensure_future(open_watchers(server.target, watchers, opened, hold))
        await asyncio.wait([task, asyncio.ensure_future(opened.wait())], return_when=asyncio.FIRST_COMPLETED)
        assert opened.is_set(), "the watchers did not open"
        cpu = await asyncio.to_thread(cpu_seconds, server, quiet)
        results = [await drive(server.target, "GetProject", 32, bodies) for _ in range(rounds)]
        hold.set()
        await task
        return cpu, results

    figures["cpu_with"], with_ = asyncio.run(with_watchers())
    figures["get_without"] = median(without).throughput
    figures["get_with"] = median(with_).throughput
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=3000, help="creates per phase")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds; medians are shown")
    parser.add_argument("--watchers", type=int, default=100, help="idle watchers")
    parser.add_argument("--quiet", type=float, default=10.0, help="seconds of the idle cpu measurement")
    parser.add_argument("--import-rows", type=int, default=200_000, help="rows of the Arrow import")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="bench-changes-"))
    for side in ("on", "off"):
        (workdir / side).mkdir()
    on = OurServer(workdir / "on", {"CHANGE_LOG": "true"})
    off = OurServer(workdir / "off", {"CHANGE_LOG": "false"})
    try:
        print(f"{'what':34} {'log off':>9} {'log on':>9} {'on/off':>7} {'cost':>6}")
        for in_flight in (32, 1):
            count = args.calls if in_flight > 1 else max(300, args.calls // 4)
            medians = creates({"off": off, "on": on}, count, args.rounds, in_flight)
            ratio = medians["on"].throughput / medians["off"].throughput
            print(f"{'CreateProject/' + str(in_flight) + ' (creates/s)':34} {medians['off'].throughput:>9.0f} "
                  f"{medians['on'].throughput:>9.0f} {ratio:>7.2f} {(1 - ratio) * 100:>5.1f}%")
        rates = imports({"off": off, "on": on}, args.import_rows, args.rounds)
        ratio = rates["on"] / rates["off"]
        print(f"{'Arrow import ' + str(args.import_rows) + ' rows (rows/s)':34} {rates['off']:>9.0f} "
              f"{rates['on']:>9.0f} {ratio:>7.2f} {(1 - ratio) * 100:>5.1f}%")
        off.close()
        names, _ = seed(on.target)
        figures = idle_watchers(on, names, args.watchers, args.calls, args.rounds, args.quiet)
        print(f"\n{'idle watchers':34} {'none':>9} {args.watchers:>9} {'with/none':>9}")
        print(f"{'server cpu-seconds over ' + str(args.quiet) + ' s':34} {figures['cpu_without']:>9.3f} "
              f"{figures['cpu_with']:>9.3f}")
        print(f"{'GetProject/32 (calls/s)':34} {figures['get_without']:>9.0f} {figures['get_with']:>9.0f} "
              f"{figures['get_with'] / figures['get_without']:>9.2f}")
    finally:
        on.close()
        off.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
