"""The CLI's change feed (issue 19): `projects watch`, `projects changes` and `--read-time`.

The CLI runs as a user runs it, the installed console script in a
subprocess; `watch` is read a line at a time while it runs, then stopped
the way a user stops it (Ctrl-C, SIGTERM) or by its own --limit.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import threading
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import click
import pytest
from duckdb_spawn_client import Client
from duckdb_spawn_client.cli import exit_codes
from duckdb_spawn_client.cli.inputs import TIME

from tests.clients.test_cli_workflow import CLI, ok_json, run
from tests.support.servers import InProcessServer, Stubs, wait_until


def attributes(i: int, **overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {"project_name": f"Cli feed {i}", "total_amount": Decimal(f"{10 + i}.00"),
                              "maturity_years": 2, "expected_tri": Decimal("4.00"), "dscr": Decimal("1.10")}
    values.update(overrides)
    return values


class Watch:
    """`duckdb-spawn projects watch ...` running; its stdout lines arrive in a queue as they are printed."""

    def __init__(self, target: str, *args: str) -> None:
        inherited = {k: v for k, v in os.environ.items() if not k.startswith("DUCKDB_SPAWN_")}
        self.proc = subprocess.Popen([CLI, "--server", target, "projects", "watch", *args], text=True,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=inherited)
        self.lines: queue.Queue[str | None] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line)
        self.lines.put(None)

    def next(self, timeout: float = 15) -> dict[str, Any]:
        """The next line, parsed; fails the test if none comes within `timeout` (or the command ended)."""
        try:
            line = self.lines.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"no line from watch within {timeout}s") from None
        assert line is not None, f"watch ended early: {self.stderr()}"
        assert line.endswith("\n")
        return json.loads(line)

    def next_change(self, timeout: float = 15) -> dict[str, Any]:
        for _ in range(100):  # progress lines in between, at most one a second
            line = self.next(timeout)
            if "change_type" in line:
                return line
        raise AssertionError("no change among 100 lines")

    def stop(self, signum: int) -> int:
        self.proc.send_signal(signum)
        return self.proc.wait(15)

    def stderr(self) -> str:
        if self.proc.poll() is None:
            return ""
        assert self.proc.stderr is not None
        return self.proc.stderr.read()

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


@pytest.fixture
def client(server: tuple[InProcessServer, Stubs]) -> Any:
    with Client(server[0].target, token=server[0].admin_token) as connected:
        yield connected


def test_watch_prints_a_json_line_per_change_and_ends_cleanly_on_ctrl_c(
        server: tuple[InProcessServer, Stubs], client: Client) -> None:
    target = server[0].target
    client.create_project(attributes(0))
    listed = ok_json(run(target, "--json", "projects", "list"))
    position = listed["read_position"]
    assert position and listed["total_size"] == 1

    watch = Watch(target, "--from", position, "--show-progress", "--progress-interval", "1")
    try:
        assert watch.next() == {"position": position}  # where it starts, at once
        created = client.create_project(attributes(1))
        updated = client.update_project(created.name, {"status": "ACTIVE"}, update_mask=["status"])
        client.delete_project(created.name)
        lines = [watch.next_change() for _ in range(3)]
        assert [(line["change_type"], line["project"]["name"]) for line in lines] == [
            ("created", created.name), ("updated", created.name), ("deleted", created.name)]
        assert lines[0]["project"]["attributes"]["total_amount"] == "11.00"  # exact, as everywhere in --json
        assert lines[1]["project"]["attributes"]["status"] == "ACTIVE"
        assert lines[1]["project"]["etag"] == updated.etag
        assert lines[2]["project"]["etag"] == updated.etag and lines[2]["project"]["attributes"] == {}
        assert all(line["commit_time"].endswith("Z") and line["position"] for line in lines)
        # Quiet now: a progress line at the last change's position.
        assert watch.next(timeout=10) == {"position": lines[2]["position"]}

        assert watch.stop(signal.SIGINT) == exit_codes.OK
        assert "Traceback" not in watch.stderr()
    finally:
        watch.close()

    # The same changes as `projects changes` lists them, from the same position.
    listed_changes = ok_json(run(target, "--json", "projects", "changes", "--from", position))
    assert [c["position"] for c in listed_changes["changes"]] == [line["position"] for line in lines]
    assert listed_changes["position"] == lines[2]["position"]


def test_watch_since_a_time_with_a_limit_and_sigterm(server: tuple[InProcessServer, Stubs], client: Client) -> None:
    target = server[0].target
    before = datetime.now(UTC)
    wait_until(lambda: datetime.now(UTC) > before, 5, "the clock to move on")
    made = client.batch_create_projects([attributes(i) for i in range(3)])

    # --since replays what committed after the time; --limit ends the command by itself.
    limited = run(target, "projects", "watch", "--since", before.isoformat(), "--limit", "3")
    assert limited.returncode == exit_codes.OK, limited.stderr
    lines = [json.loads(line) for line in limited.stdout.splitlines()]
    assert [line["project"]["name"] for line in lines] == [p.name for p in made]
    assert {line["change_type"] for line in lines} == {"created"}
    # A time ago: ten minutes before this server's change log began, which the server says.
    too_early = run(target, "projects", "watch", "--since", "10m")
    assert too_early.returncode == exit_codes.FAILED_PRECONDITION
    assert "  - start_time: must not be before " in too_early.stderr and "READ_TIME_EXPIRED" in too_early.stderr

    # From now (no --from, no --since): only what commits later. SIGTERM ends it as Ctrl-C does.
    watch = Watch(target, "--show-progress")
    try:
        assert "position" in watch.next()
        later = client.create_project(attributes(9))
        assert watch.next_change()["project"]["name"] == later.name
        assert watch.stop(signal.SIGTERM) == exit_codes.OK
    finally:
        watch.close()


def test_read_time_changes_and_feed_errors(server: tuple[InProcessServer, Stubs], client: Client,
                                           tmp_path: Path) -> None:
    target = server[0].target
    project = client.create_project(attributes(1, status="PROPOSED"))
    then = datetime.now(UTC)
    wait_until(lambda: datetime.now(UTC) > then, 5, "the clock to move on")
    client.update_project(project.name, {"status": "COMPLETED"}, update_mask=["status"])
    client.create_project(attributes(2))
    stamp = then.isoformat().replace("+00:00", "Z")

    old = ok_json(run(target, "--json", "projects", "get", project.name, "--read-time", stamp))
    assert old["attributes"]["status"] == "PROPOSED" and old["etag"] == project.etag
    now = ok_json(run(target, "--json", "projects", "get", project.name))
    assert now["attributes"]["status"] == "COMPLETED"
    listed = ok_json(run(target, "--json", "projects", "list", "--read-time", stamp))
    assert [p["name"] for p in listed["projects"]] == [project.name] and listed["read_position"]
    summary = ok_json(run(target, "--json", "projects", "summarize", "--group-by", "status", "--read-time", stamp))
    assert summary["rows"] == [{"status": "PROPOSED", "count": 1}]
    exported = ok_json(run(target, "--json", "projects", "export", str(tmp_path / "then.jsonl"),
                           "--read-time", stamp))
    assert exported["row_count"] == 1 and exported["read_position"] == listed["read_position"]
    assert json.loads((tmp_path / "then.jsonl").read_text())["status"] == "PROPOSED"

    # changes: JSON, --limit (the position is then the last one shown), and a table.
    every = ok_json(run(target, "--json", "projects", "changes"))
    assert [c["change_type"] for c in every["changes"]] == ["created", "updated", "created"]
    first = ok_json(run(target, "--json", "projects", "changes", "--limit", "1"))
    assert first["changes"] == every["changes"][:1] and first["position"] == every["changes"][0]["position"]
    rest = ok_json(run(target, "--json", "projects", "changes", "--from", first["position"], "--page-size", "1"))
    assert rest["changes"] == every["changes"][1:] and rest["position"] == every["position"]
    table = run(target, "projects", "changes", "--since", stamp)
    assert table.returncode == 0 and "updated" in table.stdout and "2 changes" in table.stdout

    # Errors keep the CLI's exit codes.
    expired = run(target, "projects", "list", "--read-time", "2000-01-01T00:00:00Z")
    assert expired.returncode == exit_codes.FAILED_PRECONDITION
    assert expired.stderr.startswith("error: FAILED_PRECONDITION (READ_TIME_EXPIRED)")
    future = run(target, "projects", "get", project.name, "--read-time", "2999-01-01T00:00:00Z")
    assert future.returncode == exit_codes.INVALID_INPUT and "READ_TIME_IN_FUTURE" in future.stderr
    bad_position = run(target, "projects", "watch", "--from", "not-a-position")
    assert bad_position.returncode == exit_codes.INVALID_INPUT and "INVALID_POSITION" in bad_position.stderr
    bad_time = run(target, "projects", "watch", "--since", "yesterday")
    assert bad_time.returncode == exit_codes.USAGE and "is not a time" in bad_time.stderr


def test_times_are_rfc_3339_now_or_a_time_ago() -> None:
    moment = datetime.now(UTC)
    assert TIME.convert("2026-12-06T09:30:00Z", None, None) == datetime(2026, 12, 6, 9, 30, tzinfo=UTC)
    assert TIME.convert("2026-12-06T11:30:00+02:00", None, None) == datetime(2026, 12, 6, 9, 30, tzinfo=UTC)
    assert TIME.convert("2026-12-06T09:30:00", None, None) == datetime(2026, 12, 6, 9, 30, tzinfo=UTC)  # UTC
    for text, seconds in [("now", 0), ("90s", 90), ("15m", 900), ("1h30m", 5400), ("-2h", 7200),
                          ("1d ago", 86400), ("500ms", 0.5)]:
        ago = (moment - TIME.convert(text, None, None)).total_seconds()
        assert seconds - 5 < ago <= seconds + 0.001, text
    with pytest.raises(click.BadParameter, match="is not a time"):
        TIME.convert("yesterday", None, None)
