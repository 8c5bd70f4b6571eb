"""Started in a container with a memory limit, DuckDB's memory limit follows that limit, not the host's RAM."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

from tests.support.cgroup import memory_cgroup
from tests.support.servers import REPO, ServerProcess, base_env, wait_until


def opened_with(tmp_path: Path, limit_bytes: int, **env: str) -> str:
    """The memory limit DuckDB reports at start-up for a server started inside a limited memory cgroup."""
    with memory_cgroup(limit_bytes) as procs:
        command = ["sh", "-c", f"echo $$ > {shlex.quote(str(procs))} && exec "
                               f"{shlex.quote(sys.executable)} -m duckdb_spawn_server"]
        server = ServerProcess(base_env(tmp_path / "limited.duckdb", **{"DUCKDB_MEMORY_LIMIT": "", **env}),
                               cwd=REPO, command=command)
        def opened() -> dict[str, object] | None:
            record = next((r for r in server.log_records() if r.get("message") == "database opened"), None)
            if record is None and server.proc.poll() is not None:
                raise AssertionError(f"the server exited: {server.stderr_lines[-10:]}")
            return record

        try:
            return str(wait_until(opened, 60, "'database opened'")["duckdb_memory_limit"])
        finally:
            server.close()


def test_default_memory_limit_is_three_quarters_of_the_container_limit(tmp_path: Path) -> None:
    assert opened_with(tmp_path, 2**30) == "768.0 MiB"


def test_an_explicit_memory_limit_wins(tmp_path: Path) -> None:
    assert opened_with(tmp_path, 2**30, DUCKDB_MEMORY_LIMIT="300MiB") == "300.0 MiB"
