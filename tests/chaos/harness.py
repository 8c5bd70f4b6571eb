"""A restartable server subprocess, and the reading helpers every scenario shares.

`Service` runs `python -m duckdb_spawn_server` (tests/support/servers.py
`ServerProcess`) on 127.0.0.1:0 over one DuckDB file, and keeps every
process it started so their logs can be counted afterwards. Its stubs act
as the generated admin. Every wait is a condition poll with a deadline.
"""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import grpc
from duckdb_spawn.v1 import project_service_pb2 as pb
from grpc_health.v1 import health_pb2

from tests.support.auth import with_token
from tests.support.rpc import rich_error
from tests.support.servers import ServerProcess, Stubs, base_env, wait_until

SERVING = health_pb2.HealthCheckResponse.SERVING
ERROR_DOMAIN = "duckdbspawn.io"
# Our channels take what the server may send (GRPC_MAX_MESSAGE_BYTES' default is 16 MiB).
CHANNEL_OPTIONS = [("grpc.max_receive_message_length", 64 * 1024 * 1024),
                   ("grpc.max_send_message_length", 64 * 1024 * 1024)]


class Service:
    """The server as a subprocess over `db`; start, kill -9, SIGTERM and start again."""

    def __init__(self, db: Path, workdir: Path, **env: str) -> None:
        self.db = db
        self.token_file = workdir / "admin.token"
        self.env = base_env(db, AUTH_ADMIN_TOKEN_FILE=str(self.token_file), **env)
        self.processes: list[ServerProcess] = []
        self.channel: grpc.Channel | None = None
        self.stubs: Stubs | None = None

    @property
    def process(self) -> ServerProcess:
        return self.processes[-1]

    def start(self, timeout: float = 60) -> float:
        """Starts a process and waits for readiness; returns the seconds it took."""
        started = time.monotonic()
        self.processes.append(ServerProcess(self.env))
        self.process.wait_serving(timeout)
        wait_until(self.token_file.exists, timeout, "the generated admin token")
        self.channel = with_token(grpc.insecure_channel(self.process.target, options=CHANNEL_OPTIONS),
                                  self.token_file.read_text().strip())
        self.stubs = Stubs(self.channel)
        self.process.wait_ready(self.stubs, timeout)
        return time.monotonic() - started

    def kill9(self) -> float:
        """kill -9 (the process group); returns the moment, for restart-to-ready figures."""
        killed = time.monotonic()
        self.process.kill9()
        return killed

    def sigterm(self, timeout: float) -> tuple[int | None, float]:
        """SIGTERM; returns (exit status, or None if still running after `timeout`; seconds to exit)."""
        sent = time.monotonic()
        self.process.signal(signal.SIGTERM)
        try:
            code: int | None = self.process.wait_exit(timeout)
        except subprocess.TimeoutExpired:
            code = None
        return code, time.monotonic() - sent

    def restart(self, timeout: float = 60) -> float:
        """A new process over the same file (the previous one must have ended); seconds to readiness."""
        self.close_channel()
        return self.start(timeout)

    def close_channel(self) -> None:
        if self.channel is not None:
            self.channel.close()
            self.channel = None

    def close(self) -> None:
        self.close_channel()
        for process in self.processes:
            process.close()

    # -- the logs of every process it ran ----------------------------------------------------
    def log_trouble(self) -> tuple[int, int]:
        """(ERROR or CRITICAL log records, lines mentioning a Traceback) over every process."""
        errors = tracebacks = 0
        for process in self.processes:
            errors += sum(1 for r in process.log_records() if r.get("level") in ("ERROR", "CRITICAL"))
            tracebacks += sum(line.count("Traceback") for line in [*process.lines, *process.stderr_lines])
        return errors, tracebacks


@contextmanager
def service(db: Path, workdir: Path, **env: str) -> Iterator[Service]:
    """A started `Service`, closed (its processes killed) on the way out."""
    served = Service(db, workdir, **env)
    try:
        served.start()
        yield served
    finally:
        served.close()


def all_projects(stubs: Stubs, page_size: int = 200, max_pages: int = 10_000) -> list[pb.Project]:
    """Every project, page by page (bounded)."""
    projects: list[pb.Project] = []
    token = ""
    for _ in range(max_pages):
        page = stubs.projects.ListProjects(pb.ListProjectsRequest(page_size=page_size, page_token=token), timeout=60)
        projects.extend(page.projects)
        token = page.next_page_token
        if not token:
            return projects
    raise AssertionError(f"ListProjects did not end within {max_pages} pages")


def readiness(stubs: Stubs, timeout: float = 2.0) -> int | None:
    """Readiness on the main port, or None when it did not answer within `timeout`."""
    try:
        return stubs.health.Check(health_pb2.HealthCheckRequest(service=""), timeout=timeout).status
    except grpc.RpcError:
        return None


def error_problem(error: grpc.RpcError, where: str) -> str:
    """'' when the error carries ErrorInfo of our domain, else what is missing."""
    rich = rich_error(error)
    info = rich.error_info
    if info is None or info.domain != ERROR_DOMAIN or not info.reason:
        return f"{where}: {rich.code.name} without ErrorInfo: {rich.message[:160]!r}"
    return ""


def code_of(error: BaseException) -> grpc.StatusCode | None:
    return error.code() if isinstance(error, grpc.RpcError) else None


def attributes_match(project: pb.Project, expected: dict[str, Any]) -> bool:
    """Whether `project` holds every expected attribute (wire form) with that value."""
    attributes = project.attributes
    return all(name in attributes and attributes[name] == value for name, value in expected.items())
