"""Acceptance 4: an injection corpus through every string input of every RPC changes nothing it should not.

Every string field of every request message (found by walking the request
descriptors, so new fields and RPCs are covered by themselves), every
Struct key and value, repeated strings and bytes get each corpus entry, one
at a time, on top of an otherwise valid request sent by an admin. Resource
names are also tried with their collection prefix (`tables/<nasty>`), so
the text reaches the code past the prefix check.

Accepted answers:
- INVALID_ARGUMENT, NOT_FOUND, RESOURCE_EXHAUSTED, each with ErrorInfo of our
  domain, no SQL, no stack trace, no DuckDB error text;
- ABORTED only when the corpus entry went into an `etag` (a wrong etag);
- OK where the text is legitimate data (a free-text attribute, an ignored
  field): a created project must hold the text verbatim, and is counted
  (imported rows are counted by the import's reported `imported_count`);
- UNIMPLEMENTED only for RPCs this branch's servicer does not implement.

Afterwards the database file (opened directly once the server has stopped)
has the same tables and columns, the same row counts except the projects the
API reported creating, and no file was written anywhere by ATTACH or COPY.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import grpc
from duckdb_spawn.v1 import admin_service_pb2 as admin_pb
from duckdb_spawn.v1 import project_service_pb2 as pb
from google.protobuf import descriptor as d

from tests.support.contract import Rpc, all_rpcs
from tests.support.rpc import create_request, rich_error, valid_attributes
from tests.support.servers import REPO, Stubs, in_process_server

MB = 1024 * 1024
CORPUS = [
    "'; DROP TABLE projects; --",
    '"; DROP TABLE projects; --',
    "x' OR '1'='1",
    "projects; DELETE FROM projects",
    "/* comment */ projects",
    "projects -- trailing comment",
    "' UNION SELECT * FROM duckdb_settings() --",
    "1; ATTACH 'evil.db' AS evil; --",
    "COPY projects TO 'stolen.csv'",
    "read_csv('/etc/passwd')",
    "\x00",
    "projects\x00; DROP TABLE projects",
    "\u202eprojects",                      # right-to-left override
    "ｐｒｏｊｅｃｔｓ",                       # full-width letters
    "projects\u200b",                      # zero-width space
    "𝐩𝐫𝐨𝐣𝐞𝐜𝐭𝐬",                          # mathematical bold letters (NFKC: "projects")
    "\ufeffprojects",                      # byte order mark
    "３f2b8c1e-4d5a-4e6f-8a7b-9c0d1e2f3a4b",  # full-width digit in a UUID
    "{{7*7}} %s%n ${jndi:ldap://x}",
    "../../etc/passwd",
    "x" * MB,
    "🦆" * (MB // 4),                       # 1 MB of 4-byte characters
]
SQL_MARKERS = ("SELECT", "INSERT", "DELETE FROM", "Binder Error", "Catalog Error", "Parser Error",
               "Conversion Error", "Constraint Error", "duckdb", "Traceback", '.py"', "internal error")
ALLOWED = {grpc.StatusCode.OK, grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.NOT_FOUND,
           grpc.StatusCode.RESOURCE_EXHAUSTED}


# -- where strings go ------------------------------------------------------------------------
Path_ = tuple[Any, ...]  # field names, list indexes, and ("key",) / ("value", name) steps into a Struct


@dataclass(frozen=True)
class Slot:
    path: Path_
    prefix: str = ""  # put before the corpus entry (a collection like "tables/")

    @property
    def leaf(self) -> str:
        return next((p for p in reversed(self.path) if isinstance(p, str) and p not in ("key", "value")), "")


def string_slots(message: Any, path: Path_ = ()) -> Iterator[Slot]:
    """Every place a string (or bytes) can go in `message`, given its current content."""
    for field in message.DESCRIPTOR.fields:
        repeated = field.is_repeated
        value = getattr(message, field.name)
        if field.type in (d.FieldDescriptor.TYPE_STRING, d.FieldDescriptor.TYPE_BYTES):
            step = (*path, field.name, 0) if repeated else (*path, field.name)
            yield Slot(step)
            current = (value[0] if len(value) else "") if repeated else value
            if isinstance(current, str) and "/" in current:
                yield Slot(step, current[: current.rindex("/") + 1])
            elif isinstance(current, str) and "." in current:
                yield Slot(step, current[: current.rindex(".") + 1])
        elif field.type == d.FieldDescriptor.TYPE_MESSAGE:
            if field.message_type.full_name == "google.protobuf.Struct":
                if repeated and not len(value):
                    continue
                struct, at = (value[0], (*path, field.name, 0)) if repeated else (value, (*path, field.name))
                yield Slot((*at, "key"))
                for name in struct.fields:
                    yield Slot((*at, "value", name))
            elif field.message_type.full_name.startswith("google.protobuf.") and \
                    field.message_type.full_name != "google.protobuf.FieldMask":
                continue
            elif repeated:
                if len(value):
                    yield from string_slots(value[0], (*path, field.name, 0))
            else:
                yield from string_slots(value, (*path, field.name))


def with_text(message: Any, slot: Slot, text: str) -> Any:
    """A copy of `message` with `text` placed at `slot`."""
    copy = type(message)()
    copy.CopyFrom(message)
    target: Any = copy
    steps = list(slot.path)
    while steps:
        step = steps.pop(0)
        if step == "key":
            target.update({slot.prefix + text: "x"})
            return copy
        if step == "value":
            target.update({steps.pop(0): slot.prefix + text})
            return copy
        if isinstance(step, int):
            if not steps:
                target[step] = slot.prefix + text
                return copy
            target = target[step]
            continue
        if not steps:
            field = target.DESCRIPTOR.fields_by_name[step]
            data: Any = slot.prefix + text
            if field.type == d.FieldDescriptor.TYPE_BYTES:
                data = data.encode("utf-8", "surrogatepass")
            setattr(target, step, data)
            return copy
        target = getattr(target, step)
    return copy


# -- the bases: valid requests reaching deep ------------------------------------------------------
def bases(existing: pb.Project) -> dict[str, Any]:
    update = pb.UpdateProjectRequest(project=pb.Project(name=existing.name), request_id=str(uuid.uuid4()))
    update.project.attributes.update({"description": "updated", "status": "ACTIVE"})
    update.update_mask.paths.extend(["attributes.description", "attributes.status"])
    create = create_request()
    create.request_id = str(uuid.uuid4())
    imported = pb.ImportProjectsRequest(mode=pb.IMPORT_MODE_ATOMIC, request_id=str(uuid.uuid4()))
    imported.struct_rows.rows.add().update(valid_attributes(project_name="imported"))
    missing = f"projects/{uuid.uuid4()}"
    return {
        "CreateProject": create,
        "GetProject": pb.GetProjectRequest(name=existing.name),
        "ListProjects": pb.ListProjectsRequest(page_size=5),
        "UpdateProject": update,
        "DeleteProject": pb.DeleteProjectRequest(name=missing, etag="0123456789abcdef"),
        "BatchCreateProjects": pb.BatchCreateProjectsRequest(requests=[create], request_id=str(uuid.uuid4())),
        "ImportProjects": [imported],
        "ExportProjects": pb.ExportProjectsRequest(),
        "ListProjectChanges": pb.ListProjectChangesRequest(page_size=5),
        "WatchProjects": pb.WatchProjectsRequest(),
        "SummarizeProjects": pb.SummarizeProjectsRequest(
            group_by=["status"],
            aggregations=[pb.Aggregation(function=pb.AGGREGATE_FUNCTION_SUM, field="total_amount", alias="total")]),
        "ListTables": admin_pb.ListTablesRequest(),
        "GetTable": admin_pb.GetTableRequest(name="tables/projects"),
        "UpdateTable": admin_pb.UpdateTableRequest(name="tables/projects", dry_run=True),
        "DeleteTable": admin_pb.DeleteTableRequest(name="tables/projects"),
        "RefreshSchemas": admin_pb.RefreshSchemasRequest(names=["schemas/project_schema"]),
        "GetSchema": admin_pb.GetSchemaRequest(name="schemas/project_schema"),
        "SetLogLevel": admin_pb.SetLogLevelRequest(level="INFO"),
    }


# -- the database file --------------------------------------------------------------------------
def snapshot(db: Path) -> dict[str, Any]:
    with duckdb.connect(str(db), read_only=True) as con:
        tables = con.execute("SELECT schema_name, table_name FROM duckdb_tables() ORDER BY ALL").fetchall()
        columns = con.execute("SELECT table_name, column_name, data_type FROM duckdb_columns() "
                              "WHERE NOT internal ORDER BY ALL").fetchall()
        counts = {}
        for schema, table in tables:
            quoted = '"' + schema.replace('"', '""') + '"."' + table.replace('"', '""') + '"'
            counts[table] = con.execute(f"SELECT count(*) FROM {quoted}").fetchone()[0]
        ids = {str(r[0]) for r in con.execute("SELECT project_id FROM projects").fetchall()}
    return {"tables": tables, "columns": columns, "counts": counts, "ids": ids}


def files_under(*roots: Path) -> set[str]:
    found = set()
    for root in roots:
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames[:] = [n for n in dirnames if n not in (".venv", ".git", "__pycache__", ".pytest_cache", "build")]
            found.update(os.path.join(dirpath, n) for n in filenames if not n.endswith((".pyc", ".wal")))
    return found


# -- the test ------------------------------------------------------------------------------------
def test_injection_corpus_through_every_string_input(tmp_path: Path) -> None:
    db = tmp_path / "data" / "corpus.duckdb"
    with in_process_server(db) as (_, admin):
        existing = admin.projects.CreateProject(create_request(description="baseline"), timeout=30)
    before = snapshot(db)
    files_before = files_under(tmp_path, REPO)

    created: set[str] = set()
    imported = [0]  # rows ImportProjects reported importing (it does not name them)
    problems: list[str] = []
    calls = 0
    accepted = 0  # calls answered OK: each may log its request id (AIP-155)
    updated = [0]  # UpdateProject calls answered OK (a replay of a logged request id writes nothing)
    with in_process_server(db) as (_, admin):
        channel = admin.channel
        request_bases = bases(existing)
        rpcs = [rpc for rpc in all_rpcs() if rpc.name in request_bases]
        untested = {rpc.name for rpc in all_rpcs() if rpc.name not in request_bases and has_strings(rpc)}
        assert not untested, f"RPCs with string inputs but no corpus base: {untested}"
        for rpc in rpcs:
            base = request_bases[rpc.name]
            first = base[0] if isinstance(base, list) else base
            for slot in string_slots(first):
                for text in CORPUS:
                    request = with_text(first, slot, text)
                    code, error, response = rpc.call(channel, [request] if isinstance(base, list) else request,
                                                     timeout=60)
                    calls += 1
                    problem = judge(rpc, slot, text, code, error)
                    if problem:
                        problems.append(problem)
                    elif code == grpc.StatusCode.OK:
                        accepted += 1
                        created |= record_creations(rpc, response, admin, slot, text, problems)
                        imported[0] += response.imported_count if rpc.name == "ImportProjects" else 0
                        updated[0] += rpc.name == "UpdateProject"
        assert admin.projects.GetProject(pb.GetProjectRequest(name=existing.name), timeout=10).name == existing.name
    assert not problems, f"{len(problems)} of {calls} calls misbehaved:\n" + "\n".join(problems[:40])

    after = snapshot(db)
    assert after["tables"] == before["tables"]
    assert after["columns"] == before["columns"]
    new_rows = after["ids"] - before["ids"]
    assert created <= new_rows and len(new_rows - created) == imported[0], \
        "rows appeared that no call reported creating"
    assert before["ids"] <= after["ids"], "rows disappeared"
    expected_counts = {**before["counts"], "projects": before["counts"]["projects"] + len(created) + imported[0]}
    # The request-id log records accepted writes that carried a request id; nothing else.
    log_table = "_duckdb_spawn_requests"
    logged = after["counts"].get(log_table, 0) - before["counts"].get(log_table, 0)
    assert 0 <= logged <= accepted
    expected_counts[log_table] = after["counts"].get(log_table, 0)
    # The change log has a row per change: each row created or imported, and each update that wrote.
    changes_table = "_duckdb_spawn_changes"
    changed = after["counts"][changes_table] - before["counts"][changes_table]
    assert 0 <= changed - len(created) - imported[0] <= updated[0]
    expected_counts[changes_table] = after["counts"][changes_table]
    assert after["counts"] == expected_counts
    assert files_under(tmp_path, REPO) - files_before <= {str(db.parent / "admin.token")}, "a file was written"
    assert calls > 500


def has_strings(rpc: Rpc) -> bool:
    return any(True for _ in string_slots(rpc.request_class()))


def judge(rpc: Rpc, slot: Slot, text: str, code: grpc.StatusCode, error: grpc.RpcError | None) -> str:
    where = f"{rpc.name} {'.'.join(map(str, slot.path))}={slot.prefix}{text[:40]!r}"
    allowed = set(ALLOWED)
    if slot.leaf == "etag":
        allowed.add(grpc.StatusCode.ABORTED)
    if not rpc.implemented:
        allowed.add(grpc.StatusCode.UNIMPLEMENTED)
    if code not in allowed:
        return f"{where}: {code.name} {error.details() if error else ''}"
    if error is None or code == grpc.StatusCode.UNIMPLEMENTED:
        return ""
    rich = rich_error(error)
    if rich.error_info is None or rich.error_info.domain != "duckdbspawn.io" or not rich.error_info.reason:
        return f"{where}: {code.name} without ErrorInfo: {rich.message[:200]}"
    for marker in SQL_MARKERS:
        if marker.lower() in rich.message.lower() and marker.lower() not in text.lower():
            return f"{where}: message leaks {marker!r}: {rich.message[:300]}"
    return ""


def record_creations(rpc: Rpc, response: Any, admin: Stubs, slot: Slot, text: str, problems: list[str]) -> set[str]:
    """Projects an OK call created; each must hold the corpus text verbatim where it was put."""
    projects = []
    if rpc.name == "CreateProject":
        projects = [response]
    elif rpc.name == "BatchCreateProjects":
        projects = list(response.projects)
    names = set()
    for project in projects:
        stored = admin.projects.GetProject(pb.GetProjectRequest(name=project.name), timeout=10)
        if stored != project:
            problems.append(f"{rpc.name}: stored project differs from the response for {text[:40]!r}")
        if slot.path[-2:-1] == ("value",):
            field = slot.path[-1]
            if stored.attributes[field] != slot.prefix + text and not isinstance(stored.attributes[field], float):
                problems.append(f"{rpc.name}: attribute {field} stored as {str(stored.attributes[field])[:40]!r}, "
                                f"sent {text[:40]!r}")
        names.add(project.name.removeprefix("projects/"))
    return names


def test_slots_cover_names_filters_attributes_and_masks() -> None:
    """The walker itself: it finds the inputs the acceptance lists."""
    existing = pb.Project(name=f"projects/{uuid.uuid4()}", etag="e")
    found = {(name, ".".join(map(str, s.path)), s.prefix) for name, base in bases(existing).items()
             for s in string_slots(base[0] if isinstance(base, list) else base)}
    for expected in [
        ("GetTable", "name", "tables/"), ("GetSchema", "name", "schemas/"), ("GetProject", "name", "projects/"),
        ("ListProjects", "filter", ""), ("ListProjects", "order_by", ""), ("ExportProjects", "filter", ""),
        ("SummarizeProjects", "group_by.0", ""), ("SummarizeProjects", "aggregations.0.field", ""),
        ("CreateProject", "project.attributes.key", ""), ("CreateProject", "project.attributes.value.description", ""),
        ("UpdateProject", "update_mask.paths.0", "attributes."), ("BatchCreateProjects",
                                                                  "requests.0.project.attributes.key", ""),
        ("ImportProjects", "struct_rows.rows.0.key", ""), ("ImportProjects", "arrow_ipc", ""),
        ("RefreshSchemas", "names.0", "schemas/"), ("UpdateTable", "schema_json", ""), ("SetLogLevel", "level", ""),
    ]:
        assert expected in found, expected
