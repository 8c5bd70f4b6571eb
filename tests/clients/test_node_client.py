"""Acceptance 3: `npm test` in clients/node passes against a live server started here.

The Node modules are installed by `make test` (`npm ci`, from the committed
package-lock.json); the google/api and google/rpc protos by `make proto-deps`.
The watch example (clients/node/watch.js) follows the change feed across a
server restart.
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import signal
import subprocess
import threading
from decimal import Decimal
from pathlib import Path
from typing import Any

from duckdb_spawn_client import Client, RetryPolicy

from tests.support.auth import generated_admin_token
from tests.support.servers import REPO, InProcessServer, ServerProcess, Stubs, base_env, free_port

NODE_CLIENT = REPO / "clients" / "node"


def test_npm_test_passes_against_a_live_server(server: tuple[InProcessServer, Stubs]) -> None:
    npm = shutil.which("npm")
    assert npm is not None, "npm is needed (Node 20+): the Node client is tested for real"
    assert (NODE_CLIENT / "node_modules" / "@grpc" / "grpc-js").is_dir(), "run `make test` (it runs npm ci)"
    assert (REPO / "build" / "proto-deps" / "google" / "rpc" / "status.proto").is_file(), "run `make proto-deps`"
    env = {**os.environ, "DUCKDB_SPAWN_SERVER": server[0].target, "DUCKDB_SPAWN_TOKEN": server[0].admin_token or ""}
    result = subprocess.run([npm, "test"], cwd=NODE_CLIENT, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "# pass 8" in result.stdout and "# fail 0" in result.stdout, result.stdout[-2000:]


def test_the_watch_example_resumes_across_a_server_restart(tmp_path: Path) -> None:
    node = shutil.which("node")
    assert node is not None, "node is needed (Node 20+)"
    port = free_port()
    database = tmp_path / "data" / "node-watch.duckdb"
    env = base_env(database, GRPC_PORT=str(port), METRICS_ENABLED="false", SHUTDOWN_DRAIN_SECONDS="0")
    servers = [ServerProcess(env)]
    watcher: subprocess.Popen[str] | None = None
    lines: queue.Queue[str] = queue.Queue()
    try:
        servers[0].wait_serving()
        target = f"127.0.0.1:{port}"
        client = Client(target, token=generated_admin_token(database), timeout=60,
                        retry=RetryPolicy(max_attempts=10_000, initial_backoff=0.05, max_backoff=0.5))
        start = client.list_projects().read_position
        watcher = subprocess.Popen([node, "watch.js", start], cwd=NODE_CLIENT, text=True, stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, env={**os.environ, "DUCKDB_SPAWN_SERVER": target})
        def forward(stream: Any) -> None:
            for line in stream:
                lines.put(line)

        threading.Thread(target=forward, args=(watcher.stdout,), daemon=True).start()

        def read(count: int) -> list[dict[str, Any]]:
            try:
                return [json.loads(lines.get(timeout=30)) for _ in range(count)]
            except queue.Empty:
                raise AssertionError(f"watch.js printed no line within 30 s; stderr: {watcher_stderr()}") from None

        def watcher_stderr() -> str:
            return watcher.stderr.read() if watcher is not None and watcher.poll() is not None else "(running)"

        def project(i: int) -> dict[str, Any]:
            return {"project_name": f"Node watched {i}", "total_amount": Decimal("5.00"), "maturity_years": 1,
                    "expected_tri": Decimal("1.00"), "dscr": Decimal("1.00")}

        made = client.batch_create_projects([project(i) for i in range(3)])
        seen = read(3)
        servers[0].signal(signal.SIGTERM)  # the stream ends UNAVAILABLE; the example calls again
        assert servers[0].wait_exit(30) == 0
        servers.append(ServerProcess(env))  # same port, same file
        servers[-1].wait_serving()
        later = client.batch_create_projects([project(i) for i in range(3, 5)])
        client.delete_project(made[0].name)
        seen += read(3)

        watcher.send_signal(signal.SIGINT)
        assert watcher.wait(15) == 0
        listed = list(client.iter_changes(start_position=start))
        assert [line["position"] for line in seen] == [c.position for c in listed]  # no gap, no duplicate
        assert [(line["change_type"], line["name"]) for line in seen] == [
            *(("created", p.name) for p in made + later), ("deleted", made[0].name)]
        assert seen[0]["attributes"]["total_amount"] == "5.00" and "attributes" not in seen[-1]
        assert "reconnecting (UNAVAILABLE" in watcher_stderr()
        client.close()
    finally:
        if watcher is not None and watcher.poll() is None:
            watcher.kill()
            watcher.wait(10)
        for server in servers:
            server.close()
