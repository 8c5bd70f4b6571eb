"""The README's repository layout names what is there, and everything that is there is named."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SERVER = REPO / "server" / "duckdb_spawn_server"


def layout() -> list[str]:
    text = (REPO / "README.md").read_text()
    block = text.split("## Repository layout", 1)[1].split("```", 2)[1]
    return block.splitlines()


def named_paths() -> set[Path]:
    """Every path the tree names, resolved against the directory it is indented under."""
    paths: set[Path] = set()
    parents: list[tuple[int, Path]] = [(-1, REPO)]
    for line in layout():
        match = re.match(r"^( *)(\S+(?:, \S+)*)\s{2,}", line + "  ")
        if not match:
            continue
        indent = len(match.group(1))
        while parents[-1][0] >= indent:
            parents.pop()
        if not re.search(r"[./]", match.group(2)) and not (parents[-1][1] / match.group(2)).exists():
            continue  # a continuation line of a description
        for name in match.group(2).split(", "):
            path = parents[-1][1] / name.rstrip("/")
            paths.add(path)
            if name.endswith("/"):
                parents.append((indent, path))
    return paths


def tracked_top_level() -> set[str]:
    files = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True, check=True).stdout.split()
    return {f.split("/", 1)[0] for f in files if not f.startswith(".") or f.startswith(".ci/")}


def test_every_named_path_exists() -> None:
    missing = sorted(str(p.relative_to(REPO)) for p in named_paths() if not p.exists())
    assert missing == []


def test_every_top_level_entry_and_server_package_is_named() -> None:
    named = {str(p.relative_to(REPO)) for p in named_paths()}
    named |= {name.split("/", 1)[0] for name in named}
    top = {name for name in tracked_top_level() if name not in {"README.md", "Makefile", "pyproject.toml",
                                                                 "buf.yaml", "LICENSE"}}
    assert sorted(top - named) == []
    packages = {str(p.relative_to(REPO)) for p in SERVER.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    assert sorted(packages - named) == []
