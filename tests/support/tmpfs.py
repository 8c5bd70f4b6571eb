"""A small tmpfs volume for full-disk tests (CI runs as root; elsewhere the test is skipped, saying why)."""

from __future__ import annotations

import errno
import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest


@contextmanager
def tmpfs(directory: Path, size_mib: int) -> Iterator[Path]:
    """Mounts a `size_mib` tmpfs on `directory` (created) for the block; skips the test where mounting is impossible."""
    directory.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs to fill a disk needs root (CI runs as root)")
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_mib}m", "tmpfs", str(directory)],
                             capture_output=True, text=True, check=False)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()[:200]}")
    try:
        yield directory
    finally:
        # Lazy: a server process killed by the test may still hold files open for a moment.
        subprocess.run(["umount", "-l", str(directory)], capture_output=True, check=False)


def fill(path: Path, leave_bytes: int = 0) -> int:
    """Writes `path` until the volume has at most `leave_bytes` free (0: completely full); returns its size."""
    written = 0
    with open(path, "ab", buffering=0) as filler:
        for chunk in (1 << 20, 1 << 16, 1 << 12, 1):
            try:
                while free_bytes(path.parent) - chunk >= leave_bytes:
                    written += filler.write(b"\0" * chunk) or 0
            except OSError as error:
                if error.errno != errno.ENOSPC:
                    raise
    return written


def free_bytes(directory: Path) -> int:
    stats = os.statvfs(directory)
    return stats.f_bavail * stats.f_frsize
