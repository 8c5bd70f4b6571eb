"""Start-up: bad configuration fails fast; `make run` serves on 50051 with the mock."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import grpc
import pytest

from tests.support.rpc import create_request
from tests.support.servers import BIN, REPO, ServerProcess, Stubs, base_env, wait_until


@pytest.mark.parametrize(("name", "value"), [("GRPC_PORT", "fifty"), ("ONTO_SERVER_TIMEOUT", "-3"),
                                              ("USE_MOCK_ONTO_SERVER", "perhaps")])
def test_invalid_configuration_exits_2_with_one_line_naming_the_variable(tmp_path: Path, name: str,
                                                                        value: str) -> None:
    env = {**os.environ, **base_env(tmp_path / "x.duckdb"), name: value}
    for command in ([str(BIN / "duckdb-spawn-server")], [sys.executable, "-m", "duckdb_spawn_server"]):
        result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
        assert result.returncode == 2
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and name in lines[0], result.stderr
        assert not (tmp_path / "x.duckdb").exists()


def test_make_run_serves_on_50051_with_a_duckdb_file_and_the_mock(tmp_path: Path) -> None:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("GRPC_", "DUCKDB_"))}
    env.update(DUCKDB_PATH=str(tmp_path / "data" / "run.duckdb"), METRICS_PORT="0", SHUTDOWN_DRAIN_SECONDS="0")
    server = ServerProcess(env, cwd=REPO, command=["make", "--no-print-directory", "run"])
    try:
        assert server.wait_serving(120) == 50051
        channel = grpc.insecure_channel("127.0.0.1:50051")
        stubs = Stubs(channel)
        server.wait_ready(stubs)
        project = stubs.projects.CreateProject(create_request())
        assert project.schema_version.startswith("sha256:")  # validated by the built-in mock schema
        assert (tmp_path / "data" / "run.duckdb").exists()
        assert any(r.get("message") == "database opened" for r in server.log_records())
        channel.close()
        os.killpg(server.proc.pid, signal.SIGTERM)  # as Ctrl-C would: make and the server both get it
        wait_until(lambda: any(r.get("message") == "stopped" for r in server.log_records()), 60,
                   "the server to stop cleanly")
    finally:
        server.close()
