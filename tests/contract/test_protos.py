"""The contract: buf lint and format clean, no breaking change, generated code in sync."""

from __future__ import annotations

import filecmp
import subprocess
from pathlib import Path

from tests.support.servers import REPO


def make(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["make", "--no-print-directory", *args], cwd=REPO, capture_output=True, text=True,
                          timeout=600)


def test_buf_lint_and_format_are_clean() -> None:
    result = make("lint")
    assert result.returncode == 0, result.stdout + result.stderr


def test_no_breaking_change_against_the_contract_baseline() -> None:
    result = make("breaking")
    assert result.returncode == 0, result.stdout + result.stderr


def test_generated_code_matches_the_protos(tmp_path: Path) -> None:
    result = make("generate", f"GEN_OUT={tmp_path}")
    assert result.returncode == 0, result.stderr
    fresh, committed = tmp_path / "duckdb_spawn", REPO / "generated" / "duckdb_spawn"
    fresh_files = sorted(p.relative_to(fresh) for p in fresh.rglob("*") if p.is_file())
    committed_files = sorted(p.relative_to(committed) for p in committed.rglob("*")
                             if p.is_file() and "__pycache__" not in p.parts)
    assert fresh_files == committed_files, "generated/ has missing or extra files: run `make generate`"
    drifted = [str(f) for f in fresh_files if not filecmp.cmp(fresh / f, committed / f, shallow=False)]
    assert not drifted, f"generated/ drifted from protos/ (run `make generate`): {drifted}"


def test_every_message_field_and_method_is_documented() -> None:
    from google.protobuf import descriptor_pb2

    assert make("proto-deps").returncode == 0  # buf resolves google/api imports from there
    result = subprocess.run(
        ["buf", "build", "protos", "-o", "-", "--as-file-descriptor-set"],
        cwd=REPO, capture_output=True, timeout=120, env={"PATH": str(Path(__import__("sys").executable).parent)})
    assert result.returncode == 0, result.stderr
    files = descriptor_pb2.FileDescriptorSet.FromString(result.stdout)
    undocumented = []
    for file in files.file:
        if not file.name.startswith("duckdb_spawn/"):
            continue
        comments = {tuple(loc.path): loc.leading_comments.strip() for loc in file.source_code_info.location}
        for i, message in enumerate(file.message_type):
            if not comments.get((4, i)):
                undocumented.append(message.name)
            for j, field in enumerate(message.field):
                if not comments.get((4, i, 2, j)):
                    undocumented.append(f"{message.name}.{field.name}")
        for i, service in enumerate(file.service):
            for j, method in enumerate(service.method):
                if not comments.get((6, i, 2, j)):
                    undocumented.append(f"{service.name}.{method.name}")
        for i, enum in enumerate(file.enum_type):
            for j, value in enumerate(enum.value):
                if not comments.get((5, i, 2, j)):
                    undocumented.append(f"{enum.name}.{value.name}")
    assert not undocumented, undocumented
