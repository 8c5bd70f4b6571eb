"""The default DuckDB memory limit follows the container's cgroup limit (files laid out as the kernel does)."""

from __future__ import annotations

from pathlib import Path

from duckdb_spawn_server.storage.memory_limit import container_memory_limit, default_memory_limit

GIB = 2**30
HOST = 64 * GIB
V1_UNLIMITED = "9223372036854771712"


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text + "\n")


def v2_tree(tmp_path: Path, own: str, parent: str) -> tuple[Path, Path]:
    root, proc = tmp_path / "cgroup", tmp_path / "proc-self-cgroup"
    write(root / "cgroup.controllers", "cpu memory pids")
    write(root / "kubepods" / "memory.max", parent)
    write(root / "kubepods" / "pod1" / "memory.max", own)
    write(proc, "0::/kubepods/pod1")
    return root, proc


def test_cgroup_v2_limit_of_the_process_gives_three_quarters(tmp_path: Path) -> None:
    root, proc = v2_tree(tmp_path, str(2 * GIB), "max")
    assert container_memory_limit(root, proc) == 2 * GIB
    assert default_memory_limit(root, proc, HOST) == "1536MiB"


def test_the_tightest_ancestor_binds(tmp_path: Path) -> None:
    root, proc = v2_tree(tmp_path, "max", str(GIB))
    assert default_memory_limit(root, proc, HOST) == "768MiB"


def test_no_limit_leaves_duckdbs_default(tmp_path: Path) -> None:
    root, proc = v2_tree(tmp_path, "max", "max")
    assert container_memory_limit(root, proc) is None
    assert default_memory_limit(root, proc, HOST) is None


def test_a_limit_above_the_hosts_ram_leaves_duckdbs_default(tmp_path: Path) -> None:
    root, proc = v2_tree(tmp_path, str(128 * GIB), "max")
    assert default_memory_limit(root, proc, HOST) is None


def test_cgroup_v1_memory_controller(tmp_path: Path) -> None:
    root, proc = tmp_path / "cgroup", tmp_path / "proc-self-cgroup"
    write(root / "memory" / "memory.limit_in_bytes", V1_UNLIMITED)
    write(root / "memory" / "docker" / "abc" / "memory.limit_in_bytes", str(512 * 2**20))
    write(proc, "9:name=systemd:/docker/abc\n4:memory:/docker/abc\n1:cpu,cpuacct:/docker/abc\n0::/docker/abc")
    assert default_memory_limit(root, proc, HOST) == "384MiB"


def test_v1_without_a_limit_and_a_namespaced_root(tmp_path: Path) -> None:
    root, proc = tmp_path / "cgroup", tmp_path / "proc-self-cgroup"
    write(root / "memory" / "memory.limit_in_bytes", V1_UNLIMITED)
    write(proc, "4:memory:/")
    assert default_memory_limit(root, proc, HOST) is None


def test_hybrid_layout_reads_the_unified_mount(tmp_path: Path) -> None:
    root, proc = tmp_path / "cgroup", tmp_path / "proc-self-cgroup"
    write(root / "unified" / "svc" / "memory.max", str(GIB))
    write(proc, "4:memory:/\n0::/svc")
    assert default_memory_limit(root, proc, HOST) == "768MiB"


def test_unreadable_cgroup_information_is_no_limit(tmp_path: Path) -> None:
    assert default_memory_limit(tmp_path / "none", tmp_path / "missing", HOST) is None
