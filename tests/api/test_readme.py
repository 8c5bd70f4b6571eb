"""The README's grpcurl walk-through works as printed (against a live server)."""

from __future__ import annotations

import os
import re
import subprocess

from tests.support.servers import BIN, REPO, InProcessServer, Stubs


def walkthrough_commands() -> list[str]:
    readme = (REPO / "README.md").read_text()
    block = re.search(r"<!-- walkthrough:start -->\s*```sh\n(.*?)```", readme, re.S)
    assert block, "README has no walk-through block"
    return [line for line in block.group(1).splitlines() if line.startswith("grpcurl ")]


def test_readme_starts_with_the_two_commands() -> None:
    readme = (REPO / "README.md").read_text()
    first_block = re.search(r"```sh\n(.*?)```", readme, re.S).group(1).splitlines()
    assert [line.split()[:2] for line in first_block] == [["make", "run"], ["make", "test"]]
    assert (REPO / ".ci" / "run").read_text().strip().endswith("make test")


def test_walkthrough_runs_as_printed(server: tuple[InProcessServer, Stubs]) -> None:
    commands = walkthrough_commands()
    assert len(commands) >= 8
    env = {**os.environ, "PATH": f"{BIN}:{os.environ['PATH']}"}
    for command in commands:
        command = command.replace("localhost:50051", server[0].target)
        # Run beside the database, as `make run` does: the generated admin.token is there.
        result = subprocess.run(command, shell=True, env=env, capture_output=True, text=True, timeout=60,
                                cwd=server[0].db_path.parent)
        assert result.returncode == 0, f"{command}\n{result.stderr}"
