"""kill -9 and SIGTERM under concurrent writes: nothing acknowledged is lost, shutdown is clean.

kill -9 rounds: 16 writers (mostly CreateProject, some Update, Delete,
BatchCreate and Import, Struct and Arrow) until enough writes are
acknowledged, then the process group is killed; a new process opens the
same file. Every acknowledged write must be there (deleted rows stay
deleted), checked through the API against the writers' ledger after each
round; restart time is kill -> readiness SERVING.

SIGTERM rounds: the same load, then SIGTERM. The process must exit 0 within
SHUTDOWN_DRAIN_SECONDS + SHUTDOWN_GRACE_SECONDS + a margin; every call
either succeeded or got UNAVAILABLE (CANCELLED or anything else means an
in-flight call was cut); nothing acknowledged is lost after a restart.
"""

from __future__ import annotations

import tempfile
import threading
import time
from pathlib import Path

import grpc

from tests.chaos.figures import Row, Stopwatch
from tests.chaos.harness import SERVING, Service, all_projects, readiness
from tests.chaos.writers import Ledger, Writer, WriterPlan, join_writers, run_writers
from tests.support.servers import wait_until

WRITERS = 16
MIX = {"create": 70, "update": 10, "delete": 6, "batch": 8, "import_struct": 4, "import_arrow": 2}
DRAIN_SECONDS, GRACE_SECONDS, EXIT_MARGIN_SECONDS = 1.0, 5.0, 5.0


def _settle(row: Row, ledger: Ledger, service: Service, seen: set[str], round_number: int) -> None:
    """Reads every project back and checks the ledger; new problems go into `row`."""
    assert service.stubs is not None
    lost, problems = ledger.verify(all_projects(service.stubs, page_size=1000))
    row.lost = lost
    for problem in problems:
        if problem not in seen:
            seen.add(problem)
            row.problem(f"round {round_number}: {problem}")


def _crashes(row: Row, writers: list[Writer]) -> None:
    """Writer threads that died (a bug in the suite)."""
    for writer in writers:
        if writer.crash:
            row.problem(f"{writer.name} crashed: {writer.crash}")


def _code_problems(row: Row, ledger: Ledger, allowed: set[str], what: str) -> None:
    for code, count in sorted(ledger.codes.items()):
        if code not in allowed:
            row.problem(f"{count} calls answered {code} {what}")
    row.internal = ledger.codes.get("INTERNAL", 0) + ledger.codes.get("UNKNOWN", 0)


def kill9_rounds(rounds: int = 3, acks_per_round: int = 1500, seed: int = 14) -> Row:
    """`rounds` kill -9s, each after `acks_per_round` acknowledged writes under 16 writers."""
    row, watch = Row("kill -9 under writes"), Stopwatch()
    ledger, seen = Ledger(), set[str]()
    plan = WriterPlan(MIX, max_ops=acks_per_round * 4)
    with tempfile.TemporaryDirectory(prefix="chaos-kill-") as tmp:
        service = Service(Path(tmp) / "data" / "kill.duckdb", Path(tmp))
        try:
            service.start()
            for number in range(1, rounds + 1):
                assert service.stubs is not None
                stop = threading.Event()
                target = ledger.acknowledged + acks_per_round
                writers = run_writers(WRITERS, service.stubs, ledger, plan, stop, seed + number, f"k{number}")
                wait_until(lambda t=target, w=writers: ledger.acknowledged >= t or not any(x.is_alive() for x in w),
                           120, "writes to be acknowledged before the kill")
                if ledger.acknowledged < target:
                    row.problem(f"round {number}: the writers stopped before {acks_per_round} acknowledged writes")
                killed = service.kill9()
                stop.set()
                if join_writers(writers, 60):
                    row.problem(f"round {number}: writers still blocked 60 s after the kill")
                row.tried += sum(w.ops for w in writers)
                _crashes(row, writers)
                service.restart()
                row.restart_seconds.append(time.monotonic() - killed)
                _settle(row, ledger, service, seen, number)
        finally:
            service.close()
    row.acknowledged = ledger.acknowledged
    # Before the kill every call succeeds; at the kill the calls in flight see the connection go.
    _code_problems(row, ledger, {"OK", "UNAVAILABLE"}, "(only OK, or UNAVAILABLE at the kill, are expected)")
    for anomaly in ledger.anomalies:
        row.problem(anomaly)
    row.seconds = watch.elapsed
    return row


def _stop_at_not_serving(service: Service, stop: threading.Event) -> threading.Thread:
    """A client behind a load balancer: stops sending once readiness says NOT_SERVING (or the server is gone)."""
    stubs = service.stubs
    assert stubs is not None

    def watch() -> None:
        deadline = time.monotonic() + 60
        while not stop.is_set() and time.monotonic() < deadline:
            if readiness(stubs, timeout=1.0) != SERVING:
                stop.set()
                return
            stop.wait(0.01)  # the poll interval; returns at once when stopped

    thread = threading.Thread(target=watch, name="chaos-readiness-watch", daemon=True)
    thread.start()
    return thread


def sigterm_rounds(rounds: int = 3, acks_per_round: int = 800, seed: int = 41, late_callers: bool = True) -> Row:
    """`rounds` SIGTERMs under 16 writers; exit 0 in time, every call OK or UNAVAILABLE, nothing lost.

    With `late_callers` the writers ignore readiness and keep calling through the drain until
    their first refusal (clients that bypass the load balancer), so calls also arrive as the
    drain ends and the gRPC server stops; without, they stop once readiness turns NOT_SERVING,
    and only the calls in flight at SIGTERM meet the shutdown.
    """
    row, watch = Row("SIGTERM under writes"), Stopwatch()
    ledger, seen = Ledger(), set[str]()
    limit = DRAIN_SECONDS + GRACE_SECONDS + EXIT_MARGIN_SECONDS
    plan = WriterPlan(MIX, max_ops=acks_per_round * 20)
    cut: list[str] = []  # calls answered neither OK nor UNAVAILABLE: operation, code, when
    with tempfile.TemporaryDirectory(prefix="chaos-term-") as tmp:
        service = Service(Path(tmp) / "data" / "term.duckdb", Path(tmp),
                          SHUTDOWN_DRAIN_SECONDS=f"{DRAIN_SECONDS:g}", SHUTDOWN_GRACE_SECONDS=f"{GRACE_SECONDS:g}")
        try:
            service.start()
            for number in range(1, rounds + 1):
                assert service.stubs is not None
                stop = threading.Event()
                target = ledger.acknowledged + acks_per_round
                writers = run_writers(WRITERS, service.stubs, ledger, plan, stop, seed + number, f"t{number}")
                wait_until(lambda t=target, w=writers: ledger.acknowledged >= t or not any(x.is_alive() for x in w),
                           120, "writes to be acknowledged before SIGTERM")
                if ledger.acknowledged < target:
                    row.problem(f"round {number}: the writers stopped before {acks_per_round} acknowledged writes")
                watcher = None if late_callers else _stop_at_not_serving(service, stop)
                signalled = time.monotonic()
                code, seconds = service.sigterm(limit + 30)
                row.exit_seconds.append(seconds)
                if code is None:
                    row.problem(f"round {number}: still running {limit + 30:g} s after SIGTERM")
                    service.process.kill9()
                elif code != 0:
                    row.problem(f"round {number}: exit status {code} after SIGTERM")
                if seconds > limit:
                    row.problem(f"round {number}: exit took {seconds:.1f} s, more than drain + grace + "
                                f"{EXIT_MARGIN_SECONDS:g} s = {limit:g} s")
                # The writers end by themselves: calls after the drain are refused, then nothing listens.
                if join_writers(writers, 60):
                    row.problem(f"round {number}: writers still blocked 60 s after the exit")
                stop.set()
                if watcher is not None:
                    watcher.join(10)
                row.tried += sum(w.ops for w in writers)
                _crashes(row, writers)
                cut += [f"round {number}: {operation} started {started - signalled:+.3f} s after SIGTERM got "
                        f"{error.code().name} {error.details()[:60]!r}"
                        for w in writers for operation, error, started in w.errors
                        if error.code() not in (grpc.StatusCode.UNAVAILABLE,)]
                service.restart()
                _settle(row, ledger, service, seen, number)
        finally:
            service.close()
    row.acknowledged = ledger.acknowledged
    row.notes["refused UNAVAILABLE"] = ledger.codes.get("UNAVAILABLE", 0)
    row.notes["late callers"] = "yes" if late_callers else "no"
    for text in cut:
        row.problem(f"{text} (every call meeting the shutdown must succeed, or be refused with UNAVAILABLE)")
    row.internal = ledger.codes.get("INTERNAL", 0) + ledger.codes.get("UNKNOWN", 0)
    for anomaly in ledger.anomalies:
        row.problem(anomaly)
    row.seconds = watch.elapsed
    return row
