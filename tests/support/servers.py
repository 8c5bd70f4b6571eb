"""Real servers for tests: in-process (fast) or as a subprocess (for signals and crashes).

Both bind 127.0.0.1 on a free port and use a DuckDB file in a temp dir.
Waits are condition polls with deadlines, never bare sleeps.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
from duckdb_spawn.v1 import (
    admin_service_pb2_grpc,
    monitoring_service_pb2_grpc,
    project_service_pb2_grpc,
)
from duckdb_spawn_server.app import Application
from duckdb_spawn_server.config import load_settings
from grpc_health.v1 import health_pb2, health_pb2_grpc

from tests.support.auth import with_token

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def wait_until(condition: Callable[[], Any], timeout: float, what: str, interval: float = 0.02) -> Any:
    """Polls `condition` until it returns a truthy value; fails the test after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def free_port() -> int:
    """A port nothing listens on now (for servers that log too little to say which port they took)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# More environment for every server a test starts, from its DUCKDB_PATH: tests/lake/ puts each on a
# lake of its own, and so runs the API's tests again on that engine.
backend_env: Callable[[Path], dict[str, str]] | None = None


def base_env(db_path: Path, **overrides: str) -> dict[str, str]:
    env = {
        "GRPC_HOST": "127.0.0.1",
        "GRPC_PORT": "0",
        "METRICS_PORT": "0",
        "DUCKDB_PATH": str(db_path),
        "DUCKDB_THREADS": "2",
        "SHUTDOWN_DRAIN_SECONDS": "0",
        "SHUTDOWN_GRACE_SECONDS": "5",
        "USE_MOCK_ONTO_SERVER": "true",
        # Nothing listens on the discard port: tests never reach a stray ontology server.
        "ONTO_SERVER_URL": "http://127.0.0.1:9",
        "LOG_LEVEL": "INFO",
    }
    if backend_env is not None:
        env.update(backend_env(db_path))
    env.update(overrides)
    return env


@dataclass
class Stubs:
    channel: grpc.Channel
    projects: project_service_pb2_grpc.ProjectServiceStub = field(init=False)
    admin: admin_service_pb2_grpc.AdminServiceStub = field(init=False)
    monitoring: monitoring_service_pb2_grpc.MonitoringServiceStub = field(init=False)
    health: health_pb2_grpc.HealthStub = field(init=False)

    def __post_init__(self) -> None:
        self.projects = project_service_pb2_grpc.ProjectServiceStub(self.channel)
        self.admin = admin_service_pb2_grpc.AdminServiceStub(self.channel)
        self.monitoring = monitoring_service_pb2_grpc.MonitoringServiceStub(self.channel)
        self.health = health_pb2_grpc.HealthStub(self.channel)

    def health_status(self, service: str = "") -> int:
        return self.health.Check(health_pb2.HealthCheckRequest(service=service), timeout=5).status


class InProcessServer:
    def __init__(self, db_path: Path, **env: str) -> None:
        self.db_path = db_path
        self.app = Application(load_settings(base_env(db_path, **env)))

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.app.grpc_port}"

    @property
    def admin_token(self) -> str | None:
        """The generated admin token (None when a tokens file is configured)."""
        path = self.app.security.admin_token_file
        return path.read_text().strip() if path is not None else None

    def start(self, require_ready: bool = True) -> InProcessServer:
        self.app.start()
        if require_ready:
            assert self.app.wait_ready(30), "server did not become ready"
        return self

    def stop(self) -> None:
        self.app.stop(drain_seconds=0, grace_seconds=2)


@contextmanager
def in_process_server(db_path: Path, require_ready: bool = True,
                      **env: str) -> Iterator[tuple[InProcessServer, Stubs]]:
    """A started server and stubs that call it as its admin (the generated admin token).

    Tests of behaviour act as a fully privileged client; tests of access
    control (tests/security/) build their own channels with other credentials.
    """
    server = InProcessServer(db_path, **env).start(require_ready)
    channel = with_token(grpc.insecure_channel(server.target), server.admin_token)
    try:
        yield server, Stubs(channel)
    finally:
        channel.close()
        server.stop()


class ServerProcess:
    """`python -m duckdb_spawn_server` in a subprocess; stdout (JSON lines) is collected."""

    def __init__(self, env: Mapping[str, str], cwd: Path | None = None,
                 command: list[str] | None = None, inherit_environment: bool = True) -> None:
        full_env = {**(os.environ if inherit_environment else {}), **env, "PYTHONUNBUFFERED": "1"}
        self.proc = subprocess.Popen(
            command or [sys.executable, "-m", "duckdb_spawn_server"], env=full_env, cwd=cwd,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
        self.lines: list[str] = []
        self.stderr_lines: list[str] = []
        self._reader = threading.Thread(target=self._read, args=(self.proc.stdout, self.lines), daemon=True)
        self._err_reader = threading.Thread(target=self._read, args=(self.proc.stderr, self.stderr_lines),
                                            daemon=True)
        self._reader.start()
        self._err_reader.start()
        self.grpc_port: int | None = None
        self.metrics_port: int | None = None

    @staticmethod
    def _read(stream: Any, sink: list[str]) -> None:
        for line in stream:
            sink.append(line.rstrip("\n"))

    def log_records(self) -> list[dict[str, Any]]:
        records = []
        for line in list(self.lines):
            try:
                records.append(json.loads(line))
            except ValueError:
                continue
        return records

    def wait_serving(self, timeout: float = 30) -> int:
        def serving() -> dict[str, Any] | None:
            if self.proc.poll() is not None:
                raise AssertionError(f"server exited with {self.proc.returncode}: {self.stderr_lines[-20:]}")
            return next((r for r in self.log_records() if r.get("message") == "serving"), None)

        record = wait_until(serving, timeout, "the server to log 'serving'")
        self.grpc_port = int(record["grpc_port"])
        self.metrics_port = record.get("metrics_port")
        return self.grpc_port

    @property
    def target(self) -> str:
        assert self.grpc_port is not None
        return f"127.0.0.1:{self.grpc_port}"

    def wait_ready(self, stubs: Stubs, timeout: float = 30) -> None:
        def ready() -> bool:
            try:
                return stubs.health_status() == health_pb2.HealthCheckResponse.SERVING
            except grpc.RpcError:
                return False

        wait_until(ready, timeout, "readiness SERVING")

    def signal(self, signum: int) -> None:
        self.proc.send_signal(signum)

    def kill9(self) -> None:
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)

    def wait_exit(self, timeout: float = 60) -> int:
        return self.proc.wait(timeout)

    def close(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)
