"""A real memory cgroup with a limit, for a server process to start in (root only; v1 or v2)."""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.servers import wait_until

ROOT = Path("/sys/fs/cgroup")


@contextlib.contextmanager
def memory_cgroup(limit_bytes: int) -> Iterator[Path]:
    """A new memory cgroup limited to `limit_bytes`; yields its `cgroup.procs` (write a pid there to move
    that process in). Skips, saying why, where cgroups cannot be made (CI runs as root and can)."""
    if os.geteuid() != 0:
        pytest.skip("making a memory cgroup needs root (CI runs as root)")
    name = f"duckdb-spawn-test-{secrets.token_hex(4)}"
    if (ROOT / "memory" / "memory.limit_in_bytes").exists():  # v1
        directory, limit_file = ROOT / "memory" / name, "memory.limit_in_bytes"
    elif (ROOT / "cgroup.controllers").exists() and "memory" in (ROOT / "cgroup.subtree_control").read_text():
        directory, limit_file = ROOT / name, "memory.max"
    else:
        pytest.skip("no writable memory cgroup controller here")
    try:
        directory.mkdir()
        (directory / limit_file).write_text(str(limit_bytes))
    except OSError as error:
        pytest.skip(f"cannot make a memory cgroup here: {error}")
    try:
        yield directory / "cgroup.procs"
    finally:
        # The kernel lets an emptied cgroup go once its last process is reaped.
        wait_until(lambda: _removed(directory), 10, f"the test cgroup {directory} to be removable")


def _removed(directory: Path) -> bool:
    try:
        directory.rmdir()
    except FileNotFoundError:
        return True
    except OSError:
        return False
    return True
