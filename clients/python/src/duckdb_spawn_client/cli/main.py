"""`duckdb-spawn`: the command line of the Python client.

    duckdb-spawn projects create --set project_name="Solar farm" --set total_amount=1250000.50 ...
    duckdb-spawn projects list --filter 'status = "ACTIVE"' --order-by "total_amount desc"
    duckdb-spawn projects watch --from "$(duckdb-spawn --json projects list --limit 1 | jq -r .read_position)"
    duckdb-spawn --token-file admin.token admin tables list
    duckdb-spawn --json health

Connection options have environment variables (DUCKDB_SPAWN_SERVER, ...,
see `duckdb-spawn --help`); exit codes are listed in cli/exit_codes.py.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import click
import pyarrow as pa

from .. import bulk, models
from ..client import Client
from ..connection import ConnectionSettings, read_token_file
from ..errors import DuckdbSpawnError
from ..retry import RetryPolicy
from . import exit_codes
from .inputs import TIME, parse_assignments, read_json_object
from .output import Output, to_plain
from .progress import progress_bar


@dataclass
class State:
    settings: ConnectionSettings
    timeout: float
    output: Output
    progress: bool | None  # None: when stderr is a terminal
    _client: Client | None = field(default=None, repr=False)

    @property
    def client(self) -> Client:
        if self._client is None:
            self._client = Client(settings=self.settings, timeout=self.timeout)
        return self._client

    def schema(self) -> pa.Schema | None:
        try:
            return self.client.arrow_schema()
        except DuckdbSpawnError:
            return None  # values are then read as JSON; the server has the last word anyway

    @property
    def show_progress(self) -> bool:
        return sys.stderr.isatty() if self.progress is None else self.progress


pass_state = click.make_pass_decorator(State)


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110})
@click.option("--server", "-s", envvar="DUCKDB_SPAWN_SERVER", default="localhost:50051", show_default=True,
              show_envvar=True, help="host:port of the server.")
@click.option("--token", envvar="DUCKDB_SPAWN_TOKEN", show_envvar=True,
              help="Bearer token (sent as 'authorization: Bearer <token>').")
@click.option("--token-file", envvar="DUCKDB_SPAWN_TOKEN_FILE", show_envvar=True,
              type=click.Path(exists=True, dir_okay=False), help="File holding the token, such as admin.token.")
@click.option("--tls/--plaintext", envvar="DUCKDB_SPAWN_TLS", show_envvar=True, default=False,
              help="Use TLS (implied by --ca-file, --cert-file or --key-file).  [default: plaintext]")
@click.option("--ca-file", envvar="DUCKDB_SPAWN_CA_FILE", show_envvar=True,
              type=click.Path(exists=True, dir_okay=False), help="PEM CA bundle that signed the server's certificate.")
@click.option("--cert-file", envvar="DUCKDB_SPAWN_CERT_FILE", show_envvar=True,
              type=click.Path(exists=True, dir_okay=False), help="PEM client certificate (mutual TLS).")
@click.option("--key-file", envvar="DUCKDB_SPAWN_KEY_FILE", show_envvar=True,
              type=click.Path(exists=True, dir_okay=False), help="PEM key of the client certificate.")
@click.option("--server-name", envvar="DUCKDB_SPAWN_SERVER_NAME", show_envvar=True,
              help="Name to verify in the server's certificate instead of the host of --server.")
@click.option("--timeout", envvar="DUCKDB_SPAWN_TIMEOUT", show_envvar=True, type=click.FloatRange(min=0.001),
              default=30.0, show_default=True, help="Deadline of each call in seconds (retries included).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of tables.")
@click.option("--progress/--no-progress", default=None,
              help="Progress bars for import and export.  [default: when stderr is a terminal]")
@click.version_option(package_name="duckdb-spawn-client")
@click.pass_context
def cli(ctx: click.Context, server: str, token: str | None, token_file: str | None, tls: bool,
        ca_file: str | None, cert_file: str | None, key_file: str | None, server_name: str | None,
        timeout: float, as_json: bool, progress: bool | None) -> None:
    """Talk to a duckdb-spawn server: projects, tables, schemas, health.

    Exit codes: 0 ok, 1 unexpected, 2 usage, 3 invalid input, 4 not found, 5 already exists, 6 aborted
    (stale etag), 7 failed precondition, 8 unauthenticated, 9 permission denied, 10 resource exhausted,
    11 unavailable, 12 deadline exceeded, 13 unimplemented, 14 unhealthy.
    """
    if token is None and token_file is not None:
        try:
            token = read_token_file(token_file)
        except (OSError, ValueError) as error:
            raise click.UsageError(f"--token-file: {error}") from None
    if bool(cert_file) != bool(key_file):
        raise click.UsageError("mutual TLS needs both --cert-file and --key-file")
    settings = ConnectionSettings(target=server, token=token, tls=tls, ca_file=ca_file, cert_file=cert_file,
                                  key_file=key_file, server_name=server_name)
    ctx.obj = State(settings, timeout, Output(as_json), progress)
    ctx.call_on_close(lambda: ctx.obj._client.close() if ctx.obj._client else None)


# -- projects -----------------------------------------------------------------------------

@cli.group()
def projects() -> None:
    """Create, read, update, delete, import, export and summarise projects."""


def _attributes(state: State, assignments: Sequence[str], file: str | None) -> dict[str, Any]:
    attributes = read_json_object(file) if file else {}
    attributes.update(parse_assignments(assignments, state.schema))
    return attributes


_set_option = click.option("--set", "assignments", multiple=True, metavar="NAME=VALUE",
                           help="An attribute; repeatable. Numbers are exact (1250000.50).")
_file_option = click.option("--file", "-f", "file", metavar="PATH",
                            help="JSON object of attributes (or a project with 'attributes'); - for stdin.")
_read_time_option = click.option(
    "--read-time", type=TIME, default=None,
    help="Read as of this time (within the server's change retention): RFC 3339, or ago: 15m, 2h, 1d.")


@projects.command("create")
@_set_option
@_file_option
@click.option("--id", "project_id", help="UUID to use as the project's id (default: generated).")
@click.option("--request-id", help="AIP-155 request id (default: generated; a retry reuses it).")
@pass_state
def projects_create(state: State, assignments: tuple[str, ...], file: str | None, project_id: str | None,
                    request_id: str | None) -> None:
    """Create a project from --set flags and/or a JSON file."""
    attributes = _attributes(state, assignments, file)
    state.output.project(state.client.create_project(attributes, project_id=project_id, request_id=request_id))


@projects.command("get")
@click.argument("name")
@_read_time_option
@pass_state
def projects_get(state: State, name: str, read_time: datetime | None) -> None:
    """Show a project (NAME: projects/{uuid} or the bare uuid), as it is or was at --read-time."""
    state.output.project(state.client.get_project(name, read_time=read_time))


@projects.command("list")
@click.option("--filter", "filter_text", default="", help='AIP-160 filter, e.g. status = "ACTIVE" AND dscr > 1.2')
@click.option("--order-by", default="", help='e.g. "total_amount desc, project_name"')
@click.option("--page-size", type=click.IntRange(min=0), default=0, help="Projects per call (default: server's).")
@click.option("--page-token", default="", help="Start from this page token (prints the next one).")
@click.option("--limit", type=click.IntRange(min=0), default=50, show_default=True,
              help="Show at most this many projects; 0 for all.")
@click.option("--columns", default="", help="Comma-separated attributes to show (tables only).")
@_read_time_option
@pass_state
def projects_list(state: State, filter_text: str, order_by: str, page_size: int, page_token: str, limit: int,
                  columns: str, read_time: datetime | None) -> None:
    """List projects, newest first unless --order-by says otherwise.

    With --page-token, shows that one page and the token of the next. --json also prints the
    listing's read_position: `projects watch --from` it to follow what changes after it.
    """
    client, names = state.client, [c.strip() for c in columns.split(",") if c.strip()]
    if page_token:
        page = client.list_projects(page_size=page_size, page_token=page_token, filter=filter_text,
                                    order_by=order_by, read_time=read_time)
        return state.output.projects(page.projects, page.total_size, names, page.next_page_token,
                                     page.read_position)
    shown: list[Any] = []
    total, position = 0, ""
    for page in client.iter_pages(page_size=page_size or (min(limit, 1000) if limit else 1000),
                                  filter=filter_text, order_by=order_by, read_time=read_time):
        total, position = page.total_size, page.read_position
        shown += page.projects
        if limit and len(shown) >= limit:
            break
    state.output.projects(shown[:limit] if limit else shown, total, names, read_position=position)


@projects.command("update")
@click.argument("name")
@_set_option
@_file_option
@click.option("--unset", multiple=True, metavar="NAME", help="Clear an attribute; repeatable.")
@click.option("--replace", is_flag=True, help="Replace every attribute with the ones given.")
@click.option("--etag", default="", help="Only update if the project still has this etag.")
@click.option("--request-id", help="AIP-155 request id (default: generated).")
@pass_state
def projects_update(state: State, name: str, assignments: tuple[str, ...], file: str | None,
                    unset: tuple[str, ...], replace: bool, etag: str, request_id: str | None) -> None:
    """Change attributes: only those given (--set, --file, --unset) change."""
    attributes = _attributes(state, assignments, file)
    if not attributes and not unset:
        raise click.UsageError("nothing to update: give --set, --file or --unset")
    mask = ["*"] if replace else [*attributes, *unset]
    state.output.project(state.client.update_project(name, attributes, update_mask=mask, etag=etag,
                                                     request_id=request_id))


@projects.command("delete")
@click.argument("name")
@click.option("--etag", default="", help="Only delete if the project still has this etag.")
@pass_state
def projects_delete(state: State, name: str, etag: str) -> None:
    """Delete a project."""
    state.client.delete_project(name, etag=etag)
    if state.output.as_json:
        state.output.json({"deleted": name})
    else:
        state.output.message(f"deleted {name}")


@projects.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("--format", "file_format", type=click.Choice(bulk.FORMATS), help="Default: from the suffix.")
@click.option("--mode", type=click.Choice(["atomic", "best-effort"]), default="atomic", show_default=True,
              help="atomic: all rows or none; best-effort: the valid rows.")
@click.option("--batch-rows", type=click.IntRange(1, 10000), default=bulk.DEFAULT_BATCH_ROWS, show_default=True,
              help="Rows per message.")
@click.option("--request-id", help="AIP-155 request id (default: generated).")
@pass_state
def projects_import(state: State, path: str, file_format: str | None, mode: str, batch_rows: int,
                    request_id: str | None) -> None:
    """Stream a CSV, Parquet, JSON-lines or Arrow IPC file into the projects table.

    Exits 3 when rows were rejected (listed), even in best-effort mode.
    """
    kind = _format(path, file_format)
    with progress_bar(f"import {Path(path).name}", state.show_progress, state.progress is True,
                      bulk.progress_unit(kind)) as advance:
        result = state.client.import_file(path, format=kind, mode=mode.replace("-", "_"), batch_rows=batch_rows,
                                          request_id=request_id, progress=advance)
    out = state.output
    if out.as_json:
        out.json(result)
    else:
        out.message(f"received {result.received_count}, imported {result.imported_count}, "
                    f"rejected {result.failed_count}")
        if result.errors:
            out.table("rejected rows", ["row", "field", "problem", "reason"],
                      [[e.row_number, v.field, v.description, v.reason]
                       for e in result.errors[:50] for v in e.field_violations],
                      caption="first 50 rows shown" if len(result.errors) > 50 or result.errors_truncated else None)
    if result.failed_count:
        raise SystemExit(exit_codes.INVALID_INPUT)


@projects.command("export")
@click.argument("path", type=click.Path(dir_okay=False, writable=True))
@click.option("--format", "file_format", type=click.Choice(list(bulk.EXPORT_FORMATS)),
              help="Default: from the suffix (.parquet, .csv, .jsonl, .arrow).")
@click.option("--filter", "filter_text", default="", help="AIP-160 filter.")
@click.option("--order-by", default="", help="Ordering, as for list.")
@_read_time_option
@pass_state
def projects_export(state: State, path: str, file_format: str | None, filter_text: str, order_by: str,
                    read_time: datetime | None) -> None:
    """Export projects to a file (written whole or not at all)."""
    kind = _format(path, file_format)
    with progress_bar(f"export {Path(path).name}", state.show_progress, state.progress is True) as advance:
        result = state.client.export_to_file(path, format=kind, filter=filter_text, order_by=order_by,
                                             read_time=read_time, progress=advance)
    if state.output.as_json:
        state.output.json(result)
    else:
        state.output.message(f"exported {result.row_count} projects to {result.path} ({result.byte_count} bytes)")


def _format(path: str, given: str | None) -> str:
    try:
        return bulk.detect_format(path, given)
    except ValueError as error:
        raise click.UsageError(str(error)) from None


@projects.command("summarize")
@click.option("--group-by", "-g", multiple=True, help="Field to group by; repeatable.")
@click.option("--agg", "-a", "aggregations", multiple=True, metavar="SPEC",
              help="count, sum:FIELD, avg:FIELD, min:FIELD, max:FIELD, p95:FIELD, with 'as NAME'; repeatable "
                   "(default: count).")
@click.option("--filter", "filter_text", default="", help="AIP-160 filter.")
@_read_time_option
@pass_state
def projects_summarize(state: State, group_by: tuple[str, ...], aggregations: tuple[str, ...],
                       filter_text: str, read_time: datetime | None) -> None:
    """Group-by aggregates over ontology fields."""
    try:
        summary = state.client.summarize_projects(aggregations=list(aggregations) or ["count"],
                                                  group_by=list(group_by), filter=filter_text,
                                                  read_time=read_time)
    except ValueError as error:
        raise click.UsageError(str(error)) from None
    if state.output.as_json:
        return state.output.json(summary)
    names = [c.name for c in summary.columns]
    state.output.table(None, names, [[row.get(n) for n in names] for row in summary.rows])


# -- the change feed --------------------------------------------------------------------------

_from_option = click.option("--from", "start_position", default="", metavar="POSITION",
                            help="After this position (a read_position or position the server printed).")
_since_option = click.option("--since", "start_time", type=TIME, default=None,
                             help="After this time (when no --from): RFC 3339, or ago: 15m, 2h, 1d.")


@projects.command("changes")
@_from_option
@_since_option
@click.option("--page-size", type=click.IntRange(0, 1000), default=0, help="Changes per call (default: server's).")
@click.option("--limit", type=click.IntRange(min=0), default=100, show_default=True,
              help="Show at most this many changes; 0 for all up to the latest.")
@pass_state
def projects_changes(state: State, start_position: str, start_time: datetime | None, page_size: int,
                     limit: int) -> None:
    """List committed changes, oldest first: after --from, else after --since, else from the oldest kept.

    Prints the position reached: `changes --from` or `watch --from` it to go on.
    """
    shown: list[models.ProjectChange] = []
    position = ""
    for page in state.client.iter_change_pages(start_position=start_position, start_time=start_time,
                                               page_size=page_size or (min(limit, 1000) if limit else 1000)):
        shown += page.changes
        position = page.position
        if limit and len(shown) >= limit:
            break
    if limit and len(shown) > limit:
        shown = shown[:limit]
    if limit and len(shown) == limit and shown:
        position = shown[-1].position  # stopped by --limit: go on after the last one shown
    out = state.output
    if out.as_json:
        return out.json({"changes": shown, "position": position})
    out.table(None, ["commit time", "change", "project", "etag"],
              [[c.commit_time, c.change_type, c.project.name, c.project.etag] for c in shown],
              caption=f"{len(shown)} changes; go on from position {position}", keep_first=True)


@projects.command("watch")
@_from_option
@_since_option
@click.option("--progress-interval", type=click.FloatRange(min=1, max=300), default=None, metavar="SECONDS",
              help="How long the server stays silent before a progress message (default: the server's).")
@click.option("--show-progress", is_flag=True,
              help='Also print progress lines, {"position": ...}: nothing changed up to that position.')
@click.option("--limit", type=click.IntRange(min=0), default=0, show_default=True,
              help="Stop after this many changes; 0: until interrupted.")
@pass_state
def projects_watch(state: State, start_position: str, start_time: datetime | None, progress_interval: float | None,
                   show_progress: bool, limit: int) -> None:
    """Follow changes as they commit, one JSON line each: after --from, else after --since, else from now.

    Lines are {"change_type": "created"|"updated"|"deleted", "project": {...}, "commit_time": ...,
    "position": ...}; a deleted project has only its name and etag. When the server restarts, the
    watch resumes from the last position printed (for up to --timeout seconds), so no change is
    missed or printed twice. Ctrl-C (or SIGTERM) ends it with exit code 0.
    """
    _interrupt_on_sigterm()
    count = 0
    try:
        with state.client.watch(start_position=start_position, start_time=start_time,
                                progress_interval=progress_interval, progress=show_progress,
                                retry=RetryPolicy(max_attempts=1_000_000)) as changes:  # --timeout bounds it
            for event in changes:
                if isinstance(event, models.WatchProgress):
                    _print_line({"position": event.position})
                    continue
                _print_line(to_plain(event))
                count += 1
                if limit and count >= limit:
                    break
    except KeyboardInterrupt:
        return  # the way a watch ends
    except BrokenPipeError:  # the reader went away (`| head -n 5`): done, quietly
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())


def _print_line(value: Any) -> None:
    print(json.dumps(value, ensure_ascii=False), flush=True)


def _interrupt_on_sigterm() -> None:
    """SIGTERM ends a watch as Ctrl-C does: the call is cancelled and the command exits 0."""

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, interrupt)


# -- admin ----------------------------------------------------------------------------------

@cli.group()
def admin() -> None:
    """Tables, schemas and the log level (needs an admin token)."""


@admin.group()
def tables() -> None:
    """The DuckDB tables derived from the ontology."""


def _show_table(state: State, table: Any) -> None:
    out = state.output
    if out.as_json:
        return out.json(table)
    out.fields(table.name, {"schema": table.schema, "rows": table.row_count, "schema_version": table.schema_version,
                            "in_sync": table.in_sync, "protected": table.protected})
    out.table("columns", ["name", "type", "required", "default"],
              [[c.name, c.type, c.required, c.default_value] for c in table.columns])
    _show_steps(state, "pending steps", table.pending_steps)


def _show_steps(state: State, title: str, steps: Sequence[Any]) -> None:
    if steps:
        state.output.table(title, ["action", "column", "from", "to", "safety", "reason"],
                           [[s.action, s.column, s.from_type, s.to_type, s.safety, s.reason] for s in steps])


@tables.command("list")
@pass_state
def tables_list(state: State) -> None:
    """List the hosted tables."""
    result = state.client.list_tables()
    if state.output.as_json:
        return state.output.json({"tables": result})
    state.output.table(None, ["name", "schema", "rows", "columns", "schema_version", "in_sync", "protected"],
                       [[t.name, t.schema, t.row_count, len(t.columns), t.schema_version, t.in_sync, t.protected]
                        for t in result])


@tables.command("get")
@click.argument("name")
@pass_state
def tables_get(state: State, name: str) -> None:
    """Show a table (NAME: tables/{table} or the bare table name)."""
    _show_table(state, state.client.get_table(name))


@tables.command("create")
@pass_state
def tables_create(state: State) -> None:
    """Create every hosted table that does not exist yet (idempotent)."""
    result = state.client.create_tables()
    if state.output.as_json:
        return state.output.json({"results": result})
    state.output.table(None, ["table", "created"], [[r.table, r.created] for r in result])


@tables.command("update")
@click.argument("name")
@click.option("--schema-file", type=click.Path(exists=True, dir_okay=False),
              help="Reconcile with this schema document instead of the current one.")
@click.option("--dry-run", is_flag=True, help="Only show the plan.")
@click.option("--force", is_flag=True, help="Apply destructive steps too (after checking every value converts).")
@pass_state
def tables_update(state: State, name: str, schema_file: str | None, dry_run: bool, force: bool) -> None:
    """Plan (and apply) a migration of a table to the current schema."""
    schema_json = Path(schema_file).read_text(encoding="utf-8") if schema_file else ""
    result = state.client.update_table(name, schema_json=schema_json, dry_run=dry_run, force=force)
    if state.output.as_json:
        return state.output.json(result)
    state.output.message(f"{len(result.steps)} steps, {'applied' if result.applied else 'not applied'}")
    _show_steps(state, "plan", result.steps)


@tables.command("delete")
@click.argument("name")
@click.option("--force", is_flag=True, help="Needed for protected tables, such as projects.")
@pass_state
def tables_delete(state: State, name: str, force: bool) -> None:
    """Drop a table and its rows."""
    state.client.delete_table(name, force=force)
    if state.output.as_json:
        state.output.json({"deleted": name})
    else:
        state.output.message(f"deleted {name}")


@admin.group()
def schema() -> None:
    """The cached ontology schemas."""


@schema.command("get")
@click.argument("name", default="project_schema")
@pass_state
def schema_get(state: State, name: str) -> None:
    """Show a cached schema: columns, version, source and age."""
    result = state.client.get_schema(name)
    out = state.output
    if out.as_json:
        return out.json(result)
    out.fields(result.name, {"table": result.table, "version": result.version, "source": result.source,
                             "format": result.format, "fetch_time": result.fetch_time, "age": result.age,
                             "etag": result.etag, "last_error": result.last_error})
    out.table("columns", ["name", "type", "required", "default", "allowed values", "description"],
              [[c.name, c.type, c.required, c.default_value, ", ".join(c.allowed_values), c.description]
               for c in result.columns])


@schema.command("refresh")
@click.argument("names", nargs=-1)
@pass_state
def schema_refresh(state: State, names: tuple[str, ...]) -> None:
    """Fetch schemas from the ontology server now (all hosted ones by default)."""
    results = state.client.refresh_schemas(list(names))
    if state.output.as_json:
        return state.output.json({"results": results})
    state.output.table(None, ["schema", "outcome", "previous", "version", "message"],
                       [[r.schema, r.outcome, r.previous_version, r.version, r.message] for r in results])


@admin.group("log-level")
def log_level() -> None:
    """The service's log level."""


@log_level.command("get")
@pass_state
def log_level_get(state: State) -> None:
    _print_level(state, state.client.get_log_level())


@log_level.command("set")
@click.argument("level", type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"], case_sensitive=False))
@pass_state
def log_level_set(state: State, level: str) -> None:
    _print_level(state, state.client.set_log_level(level.upper()))


def _print_level(state: State, level: str) -> None:
    if state.output.as_json:
        state.output.json({"level": level})
    else:
        state.output.message(level)


# -- health -----------------------------------------------------------------------------------

@cli.command()
@pass_state
def health(state: State) -> None:
    """Readiness (grpc.health.v1) and the service's own health report. Exits 14 unless ready and not UNHEALTHY."""
    readiness = state.client.check_health("")
    report = state.client.get_health()
    out = state.output
    if out.as_json:
        out.json({"readiness": readiness, **to_plain(report)})
    else:
        out.message(f"readiness {readiness}; status {report.status}; version {report.version}; "
                    f"up {report.uptime.total_seconds():.0f}s")
        out.table(None, ["check", "status", "message", "observed"],
                  [[c.name, c.status, c.message, c.observed] for c in report.checks])
    if readiness != "SERVING" or report.status == "UNHEALTHY":
        raise SystemExit(exit_codes.UNHEALTHY)


# -- entry point ---------------------------------------------------------------------------------

def main(argv: Sequence[str] | None = None) -> int:
    """Runs the CLI; returns (and, as a console script, exits with) the documented exit code."""
    args = list(argv) if argv is not None else sys.argv[1:]

    def output() -> Output:  # the command's own Output is gone with its context
        return Output("--json" in args)

    try:
        cli.main(args=args, prog_name="duckdb-spawn", standalone_mode=False)
    except DuckdbSpawnError as error:
        output().error(error)
        return exit_codes.for_status(error.code)
    except click.exceptions.Exit as done:
        return done.exit_code
    except click.ClickException as error:
        error.show()
        return exit_codes.USAGE
    except click.exceptions.Abort:
        return exit_codes.ERROR
    except OSError as error:  # a local file that cannot be read or written
        output().local_error(str(error))
        return exit_codes.USAGE
    except ValueError as error:  # a local file's content: a CSV value of the wrong type, bad JSON lines
        output().local_error(str(error))
        return exit_codes.INVALID_INPUT
    except SystemExit as exit_:
        return exit_.code if isinstance(exit_.code, int) else exit_codes.ERROR
    return exit_codes.OK


if __name__ == "__main__":
    sys.exit(main())
