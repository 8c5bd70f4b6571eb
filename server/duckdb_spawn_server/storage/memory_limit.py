"""DuckDB's default memory limit: a share of the container's memory limit, not of the host's RAM.

DuckDB sizes its buffer pool at 80% of the RAM it sees, which inside a
container is the host's: a pod limited to 2 GiB on a 64 GiB node would let
DuckDB plan for 51 GiB and be OOM-killed long before. The limit that binds is
the cgroup's (v2 `memory.max`, v1 `memory.limit_in_bytes`) of this process's
cgroup or any ancestor; DuckDB gets CONTAINER_SHARE_PERCENT of it, the rest
is for Python, gRPC and Arrow buffers outside DuckDB's buffer manager (the
same share the Helm chart passes by default).
"""

from __future__ import annotations

import os
from pathlib import Path

CONTAINER_SHARE_PERCENT = 75
_CGROUP_ROOT = Path("/sys/fs/cgroup")
_PROC_CGROUP = Path("/proc/self/cgroup")


def default_memory_limit(cgroup_root: Path = _CGROUP_ROOT, proc_cgroup: Path = _PROC_CGROUP,
                         host_bytes: int | None = None) -> str | None:
    """CONTAINER_SHARE_PERCENT of the container's limit in whole MiB, e.g. "768MiB"; None without a
    limit below the host's RAM (then DuckDB's own default applies)."""
    limit = container_memory_limit(cgroup_root, proc_cgroup)
    host = host_bytes if host_bytes is not None else _host_bytes()
    if limit is None or limit >= host:
        return None
    return f"{max(limit * CONTAINER_SHARE_PERCENT // 100 // 2**20, 1)}MiB"


def container_memory_limit(cgroup_root: Path = _CGROUP_ROOT, proc_cgroup: Path = _PROC_CGROUP) -> int | None:
    """The tightest memory limit over this process's cgroup and its ancestors, in bytes (None: none)."""
    limits = [limit for path in _limit_files(cgroup_root, proc_cgroup) if (limit := _read_limit(path)) is not None]
    return min(limits) if limits else None


def _limit_files(cgroup_root: Path, proc_cgroup: Path) -> list[Path]:
    try:
        lines = proc_cgroup.read_text().splitlines()
    except OSError:
        return []
    files: list[Path] = []
    for line in lines:
        hierarchy, _, rest = line.partition(":")
        controllers, _, path = rest.partition(":")
        if hierarchy == "0" and controllers == "":  # v2: one unified hierarchy
            base, name = cgroup_root, "memory.max"
            if not (base / "cgroup.controllers").exists():  # hybrid layout: v2 mounted beside v1
                base = cgroup_root / "unified"
        elif "memory" in controllers.split(","):
            base, name = cgroup_root / "memory", "memory.limit_in_bytes"
        else:
            continue
        # The cgroup and every ancestor up to the mount's root (a cgroup namespace shows "/").
        directory = base / path.strip("/")
        while True:
            files.append(directory / name)
            if directory == base:
                break
            directory = directory.parent
    return files


def _read_limit(path: Path) -> int | None:
    try:
        text = path.read_text().strip()
    except OSError:
        return None
    if not text.isdigit():  # "max" (v2): no limit
        return None
    value = int(text)
    return value if value < 2**60 else None  # v1 writes "no limit" as a page-rounded 2**63 - 1


def _host_bytes() -> int:
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
