"""Disk full: the database on a small tmpfs, filled through every write RPC, freed, written again, restarted.

The volume (~20 MB) is pre-filled with a filler file; 16 writers then write
small rows and rows with ~60 KB descriptions through CreateProject,
BatchCreateProjects, ImportProjects (Struct rows and Arrow), UpdateProject
and DeleteProject until their writes are refused (or a bound on time and
count is reached). The promises checked:

- a refused write is UNAVAILABLE or RESOURCE_EXHAUSTED with ErrorInfo
  (reason LOW_DISK_SPACE); nothing answers INTERNAL;
- the free-space guard refuses writes before the volume is full: free space
  never falls below 512 KiB (DISK_FREE_RESERVE is 4 MiB; writes accepted
  while the guard decided may dip into the reserve, not through it);
- while writes are refused, reads go on and readiness stays SERVING;
- once the filler is deleted, writes resume without a restart;
- after a restart every acknowledged write is there (deleted rows stay deleted).

Needs root (to mount tmpfs); elsewhere the row says why it was skipped.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import grpc
from duckdb_spawn.v1 import monitoring_service_pb2 as monitoring_pb
from duckdb_spawn.v1 import project_service_pb2 as pb

from tests.chaos.figures import Row, Stopwatch
from tests.chaos.harness import SERVING, Service, all_projects, readiness
from tests.chaos.writers import OPERATIONS, Ledger, Writer, WriterPlan, join_writers, run_writers
from tests.support.rpc import rich_error
from tests.support.servers import wait_until

MiB = 1024 * 1024
WRITERS = 16
VOLUME_MB = 20
FILLER_MB = 8
RESERVE = "4MiB"
REFUSAL_CODES = (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.RESOURCE_EXHAUSTED)
REFUSAL_REASON = "LOW_DISK_SPACE"
EVERY_WRITE = {"create": 30, "batch": 12, "import_struct": 12, "import_arrow": 12, "update": 20, "delete": 14}
RESUME_DEADLINE = 20.0  # seconds for writes to come back once space is freed
# The volume counts as full below this: writes accepted while the guard decided may dip into the reserve,
# never through it.
FULL_BYTES = 512 * 1024


class CannotMount(Exception):
    pass


@contextmanager
def tmpfs(mountpoint: Path, size_mb: int) -> Iterator[Path]:
    """A fresh tmpfs of `size_mb` at `mountpoint`, unmounted on the way out (also on failure)."""
    if os.geteuid() != 0:
        raise CannotMount("mounting a tmpfs needs root")
    mountpoint.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_mb}m", "tmpfs", str(mountpoint)],
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise CannotMount(f"mount -t tmpfs failed: {done.stderr.strip()[:120]}")
    try:
        yield mountpoint
    finally:
        if subprocess.run(["umount", str(mountpoint)], capture_output=True, check=False).returncode != 0:
            subprocess.run(["umount", "-l", str(mountpoint)], capture_output=True, check=False)


def free_bytes(path: Path) -> int:
    stat = os.statvfs(path)
    return stat.f_bavail * stat.f_frsize


def fill(path: Path, megabytes: int) -> None:
    chunk = b"\xa5" * MiB
    with path.open("wb") as out:
        for _ in range(megabytes):
            out.write(chunk)


class FreeSpaceWatch(threading.Thread):
    """Samples the volume's free space until stopped; keeps the minimum."""

    def __init__(self, path: Path) -> None:
        super().__init__(name="chaos-free-space", daemon=True)
        self.path = path
        self.lowest = free_bytes(path)
        self.full_at: float | None = None  # when free space first fell below FULL_BYTES
        self.halt = threading.Event()

    def run(self) -> None:
        while not self.halt.wait(0.02):
            free = free_bytes(self.path)
            self.lowest = min(self.lowest, free)
            if free < FULL_BYTES and self.full_at is None:
                self.full_at = time.monotonic()


def judge_refusal(row: Row, reasons: Counter[str], operation: str, error: grpc.RpcError, phase: str) -> None:
    """A write refused for lack of space must say so, retryably, with ErrorInfo."""
    rich = rich_error(error)
    if rich.code in (grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN):
        row.internal += 1
        row.problem(f"{phase}: {operation} answered {rich.code.name}: {rich.message[:120]!r}")
        return
    if rich.code == grpc.StatusCode.NOT_FOUND and operation in ("update", "delete"):
        row.problem(f"{phase}: {operation} of an acknowledged project answered NOT_FOUND (the row was lost)")
        return
    if rich.code not in REFUSAL_CODES:
        row.problem(f"{phase}: {operation} answered {rich.code.name} (a refused write must be UNAVAILABLE or "
                    f"RESOURCE_EXHAUSTED): {rich.message[:120]!r}")
        return
    reason = rich.error_info.reason if rich.error_info is not None else "no ErrorInfo"
    reasons[reason] += 1
    if reason != REFUSAL_REASON:
        row.problem(f"{phase}: {operation} refused with {rich.code.name} reason {reason!r}, expected "
                    f"ErrorInfo.reason {REFUSAL_REASON}: {rich.message[:120]!r}")


def disk_full(fill_seconds: float = 30, writes_after_full: int = 2000, resume_writes: int = 120,
              seed: int = 20) -> Row:
    """Fills the volume (for at most `fill_seconds`, `writes_after_full` attempts once full), frees it,
    writes `resume_writes` more, restarts and checks every acknowledged write."""
    row, watch = Row("disk full (tmpfs)"), Stopwatch()
    try:
        with tempfile.TemporaryDirectory(prefix="chaos-disk-") as tmp, tmpfs(Path(tmp) / "volume", VOLUME_MB) as volume:
            _run(row, Path(tmp), volume, fill_seconds, writes_after_full, resume_writes, seed)
    except CannotMount as reason:
        row.skipped = str(reason)
    row.seconds = watch.elapsed
    return row


def _run(row: Row, workdir: Path, volume: Path, fill_seconds: float, writes_after_full: int, resume_writes: int,
         seed: int) -> None:
    ledger = Ledger()
    reasons: Counter[str] = Counter()
    service = Service(volume / "data.duckdb", workdir, DISK_FREE_RESERVE=RESERVE, HEALTH_PROBE_INTERVAL="0.5")
    try:
        service.start()
        assert service.stubs is not None
        filler = volume / "filler.bin"
        fill(filler, FILLER_MB)
        watch = FreeSpaceWatch(volume)
        watch.start()

        # 1. Fill: every write RPC, small and large rows, until refused (or bounded).
        stop = threading.Event()
        plan = WriterPlan(EVERY_WRITE, max_ops=10_000, large_share=0.5,
                          stop_on=lambda writer, error: writer.consecutive_failures >= 3)
        writers = run_writers(WRITERS, service.stubs, ledger, plan, stop, seed, "fill")
        started = time.monotonic()
        at_full = [0]

        def fill_over() -> bool:
            if watch.full_at is not None and not at_full[0]:
                at_full[0] = sum(w.ops for w in writers)
            if at_full[0] and sum(w.ops for w in writers) - at_full[0] >= writes_after_full:
                return True
            return time.monotonic() - started > fill_seconds or not any(w.is_alive() for w in writers)

        wait_until(fill_over, fill_seconds + 60, "the volume to fill or the writers to be refused")
        refused_phase_checks(row, service)
        stop.set()
        if join_writers(writers, 60):
            row.problem("fill: writers still blocked 60 s after being told to stop")
        row.tried += sum(w.ops for w in writers)
        for writer in writers:
            if writer.crash:
                row.problem(f"{writer.name} crashed: {writer.crash}")
            for operation, error, _ in writer.errors:
                judge_refusal(row, reasons, operation, error, "volume filling")
        refused = sum(len(w.errors) for w in writers)
        if not refused:
            row.problem(f"fill: no write was refused in {time.monotonic() - started:.0f} s of writing "
                        f"({row.tried} writes; free space fell to {watch.lowest // 1024} KiB)")
        if watch.lowest < FULL_BYTES:
            row.problem(f"fill: free space fell to {watch.lowest // 1024} KiB: the guard did not refuse writes "
                        f"before DISK_FREE_RESERVE={RESERVE} was used up")

        # 2. Free space: writes resume by themselves, through every write RPC.
        filler.unlink()
        resumed = resume(row, service, ledger, reasons, resume_writes, seed)
        watch.halt.set()

        # 3. Restart: every acknowledged write is there.
        row.acknowledged = ledger.acknowledged
        code, seconds = service.sigterm(60)
        row.exit_seconds.append(seconds)
        if code != 0:
            row.problem(f"restart: exit status {code} after SIGTERM")
            if code is None:
                service.process.kill9()
        try:
            service.restart()
        except AssertionError as error:
            said = [f"{r.get('level')} {r.get('message')} {r.get('error', '')}".strip()
                    for r in service.process.log_records() if r.get("level") in ("WARNING", "ERROR", "CRITICAL")]
            row.problem(f"restart: the server did not come back: {str(error)[:120]}; its log: {said[-3:]}")
            return
        assert service.stubs is not None
        lost, problems = ledger.verify(all_projects(service.stubs, page_size=40))
        row.lost = lost
        for problem in problems:
            row.problem(f"after restart: {problem}")
        row.notes.update({"refused": sum(reasons.values()), "reasons": dict(reasons) or "-",
                          "lowest free KiB": watch.lowest // 1024,
                          "resumed after s": f"{resumed:.1f}" if resumed is not None else "never"})
        for anomaly in ledger.anomalies:
            row.problem(anomaly)
    finally:
        service.close()


def refused_phase_checks(row: Row, service: Service) -> None:
    """While writes are refused: reads are served and readiness stays SERVING."""
    assert service.stubs is not None
    status = readiness(service.stubs, timeout=5)
    if status != SERVING:
        row.problem(f"volume full: readiness is {status} (reads still work, so it must stay SERVING)")
    try:
        service.stubs.projects.ListProjects(pb.ListProjectsRequest(page_size=5), timeout=10)
    except grpc.RpcError as error:
        row.problem(f"volume full: a read (ListProjects) failed: {error.code().name} {error.details()[:120]!r}")
    try:
        health = service.stubs.monitoring.GetHealth(monitoring_pb.GetHealthRequest(), timeout=10)
        disk = next((c for c in health.checks if c.name == "disk"), None)
        row.notes["disk check"] = monitoring_pb.HealthStatus.Name(disk.status).removeprefix("HEALTH_STATUS_") \
            if disk is not None else "absent"
    except grpc.RpcError as error:
        row.problem(f"volume full: GetHealth failed: {error.code().name}")


def resume(row: Row, service: Service, ledger: Ledger, reasons: Counter[str], count: int, seed: int) -> float | None:
    """After freeing space: the first write succeeds within RESUME_DEADLINE, then every write RPC succeeds."""
    assert service.stubs is not None
    # Mostly small rows: writing again must not by itself bring the volume back down to the reserve.
    writer = Writer(WRITERS, service.stubs, ledger, WriterPlan(EVERY_WRITE, count, large_share=0.05),
                    threading.Event(), seed + 1, "resume")
    freed = time.monotonic()
    first: list[grpc.RpcError | None] = []

    def accepted() -> bool:
        error = writer.one("create")
        if error is not None and error.code() not in REFUSAL_CODES:
            judge_refusal(row, reasons, "create", error, "after freeing space")
        first.append(error)
        return error is None or error.code() not in REFUSAL_CODES  # refused: poll again

    try:
        wait_until(accepted, RESUME_DEADLINE, "a write to be accepted once space was freed", interval=0.2)
    except AssertionError:
        row.problem(f"after freeing space: writes still refused {RESUME_DEADLINE:g} s later (no restart)")
        return None
    resumed = time.monotonic() - freed
    if first[-1] is not None:
        return None  # the answer was not a refusal, and judged above
    failures = 0
    for n in range(count):
        operation = OPERATIONS[n % len(OPERATIONS)]
        error = writer.one(operation)
        row.tried += 1
        if error is not None:
            failures += 1
            rich = rich_error(error)
            if rich.code in (grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN):
                row.internal += 1
            row.problem(f"after freeing space: {operation} failed with {rich.code.name}: {rich.message[:120]!r}")
            if failures >= 20:
                row.problem("after freeing space: stopped after 20 failed writes")
                break
    row.tried += len(first)
    return resumed
