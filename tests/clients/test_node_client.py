"""Acceptance 3: `npm test` in clients/node passes against a live server started here.

The Node modules are installed by `make test` (`npm ci`, from the committed
package-lock.json); the google/api and google/rpc protos by `make proto-deps`.
"""

from __future__ import annotations

import os
import shutil
import subprocess

from tests.support.servers import REPO, InProcessServer, Stubs

NODE_CLIENT = REPO / "clients" / "node"


def test_npm_test_passes_against_a_live_server(server: tuple[InProcessServer, Stubs]) -> None:
    npm = shutil.which("npm")
    assert npm is not None, "npm is needed (Node 20+): the Node client is tested for real"
    assert (NODE_CLIENT / "node_modules" / "@grpc" / "grpc-js").is_dir(), "run `make test` (it runs npm ci)"
    assert (REPO / "build" / "proto-deps" / "google" / "rpc" / "status.proto").is_file(), "run `make proto-deps`"
    env = {**os.environ, "DUCKDB_SPAWN_SERVER": server[0].target, "DUCKDB_SPAWN_TOKEN": server[0].admin_token or ""}
    result = subprocess.run([npm, "test"], cwd=NODE_CLIENT, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "# pass 4" in result.stdout and "# fail 0" in result.stdout, result.stdout[-2000:]
