"""The hostile-input corpus against a server subprocess: what every answer must (not) be.

The server reads its schema (the mock's columns plus one of every other
type, tests/chaos/corpus.py EXTRA_COLUMNS) from a real ontology server on
loopback, and each input is sent as raw bytes through a channel method with
identity serializers, as the admin. Checked:

- nothing answers INTERNAL or UNKNOWN, nor another code a caller's mistake
  cannot explain (UNAVAILABLE, DEADLINE_EXCEEDED, CANCELLED...);
- every error carries google.rpc ErrorInfo of our domain;
- no error text contains SQL, DuckDB error text, file paths or a Traceback
  (unless the input itself held that text);
- an invalid protobuf Duration is refused;
- every accepted odd value round-trips: GetProject returns what the create
  or update answered, and the attribute holds what was sent in the
  documented wire form (decimals as strings with the column's scale and
  ASCII digits, no negative zero; integers and dates in ASCII digits...);
- the row count is exact: what the API acknowledged creating, importing and
  deleting, against ListProjects' total_size and, once the server has
  stopped, the DuckDB file opened directly;
- the junk does not flood the server's log: no ERROR line, no Traceback.
"""

from __future__ import annotations

import math
import re
import tempfile
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import duckdb
import grpc
from duckdb_spawn.v1 import admin_service_pb2 as admin_pb
from duckdb_spawn.v1 import project_service_pb2 as pb
from duckdb_spawn_server.ontology.mock import MOCK_PROJECT_SCHEMA

from tests.chaos import corpus
from tests.chaos.figures import Row, Stopwatch
from tests.chaos.harness import Service, all_projects
from tests.support.contract import Rpc
from tests.support.ontology import project_document, running_ontology
from tests.support.rpc import RichError, rich_error

ALLOWED = {grpc.StatusCode.OK, grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.NOT_FOUND,
           grpc.StatusCode.ALREADY_EXISTS, grpc.StatusCode.FAILED_PRECONDITION, grpc.StatusCode.ABORTED,
           grpc.StatusCode.OUT_OF_RANGE, grpc.StatusCode.RESOURCE_EXHAUSTED}
CALL_TIMEOUT = 60.0
STOP_DEADLINE = 20.0
COLUMN_TYPES = {c["name"]: c["type"] for c in [*MOCK_PROJECT_SCHEMA["columns"], *corpus.EXTRA_COLUMNS]}
DEFAULTS = {c["name"]: c["default"] for c in MOCK_PROJECT_SCHEMA["columns"] if "default" in c}
# Text that must not reach a caller: SQL (upper case, as written), DuckDB's error classes, paths, stacks.
SQL_WORDS = ("SELECT ", "INSERT ", "DELETE FROM", "DROP ", "CREATE TABLE", "ALTER TABLE", " WHERE ", "UNION ")
LEAK_PATTERNS = [re.compile(p, re.IGNORECASE) for p in (
    r"binder error", r"catalog error", r"parser error", r"conversion error", r"constraint error",
    r"invalid input error", r"transaction ?exception", r"fatal ?exception", r"duckdb(?!\s?spawn|_spawn)",
    r"traceback", r"\.py\b", r"site-packages", r"/usr/", r"/tmp/", r"/work/", r"\.cc\b", r"\.cpp\b")]


# Streams that never end by themselves (a watch follows changes until cancelled).
ENDLESS = frozenset({"WatchProjects"})


# -- one call -----------------------------------------------------------------------------------
def call_raw(channel: grpc.Channel, rpc: Rpc, messages: tuple[bytes, ...]) -> tuple[grpc.StatusCode, Any, Any]:
    """Sends raw request bytes; returns (code, error, decoded response)."""
    d = rpc.descriptor
    kind = ("stream" if d.client_streaming else "unary") + "_" + ("stream" if d.server_streaming else "unary")
    method = getattr(channel, kind)(rpc.path, request_serializer=None, response_deserializer=None)
    try:
        answer = method(iter(messages) if d.client_streaming else messages[0], timeout=CALL_TIMEOUT)
        if d.server_streaming and d.name in ENDLESS:  # the first response (or the error) is the answer
            first = next(answer)
            answer.cancel()
            return grpc.StatusCode.OK, None, [rpc.response_class.FromString(first)]
        if d.server_streaming:
            return grpc.StatusCode.OK, None, [rpc.response_class.FromString(m) for m in answer]
        return grpc.StatusCode.OK, None, rpc.response_class.FromString(answer)
    except grpc.RpcError as error:
        return error.code(), error, None


def error_texts(rich: RichError) -> list[str]:
    texts = [rich.message]
    if rich.error_info is not None:
        texts += [rich.error_info.reason, *rich.error_info.metadata.values()]
    if rich.bad_request is not None:
        texts += [t for v in rich.bad_request.field_violations for t in (v.field, v.description)]
    if rich.precondition is not None:
        texts += [t for v in rich.precondition.violations for t in (v.subject, v.description)]
    if rich.quota is not None:
        texts += [t for v in rich.quota.violations for t in (v.subject, v.description)]
    return texts


def leak(rich: RichError, sent_text: str, workdir: str) -> str:
    """The first thing in the error a caller must not see, or ''."""
    sent = sent_text.lower()
    for text in error_texts(rich):
        for word in SQL_WORDS:
            if word in text and word.lower() not in sent:
                return word.strip()
        for pattern in LEAK_PATTERNS:
            found = pattern.search(text)
            if found and found.group(0).lower() not in sent:
                return found.group(0)
        if workdir in text:
            return workdir
    return ""


# -- the documented wire form of each type ------------------------------------------------------------
_ASCII_INT = re.compile(r"[+-]?[0-9]+")
_ASCII_DECIMAL = re.compile(r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?")
_ASCII_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_ASCII_TIMESTAMP = re.compile(r"([0-9]{4}-[0-9]{2}-[0-9]{2})[Tt ]([0-9]{2}:[0-9]{2}:[0-9]{2})(\.[0-9]+)?"
                              r"([Zz]|[+-][0-9]{2}:[0-9]{2})?")
_INTEGER_TYPES = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER",
                  "UBIGINT", "INT")


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _instant(text: str) -> datetime | None:
    match = _ASCII_TIMESTAMP.fullmatch(text)
    if not match:
        return None
    day, clock, fraction, zone = match.groups()
    fraction = (fraction or ".0")[:7]  # microseconds: the documented truncation
    zone = "+00:00" if zone in (None, "Z", "z") else zone
    try:
        parsed = datetime.fromisoformat(f"{day}T{clock}{fraction}{zone}")
    except ValueError:
        return None
    return parsed.astimezone(UTC)


def wire_form_problem(column_type: str, sent: Any, got: Any) -> str:
    """'' when `got` (what GetProject returned) is `sent` in the documented wire form of `column_type`."""
    kind = column_type.upper()
    if isinstance(sent, bytes):
        return f"accepted bytes that are not UTF-8 ({sent!r}) and stored {got!r}"
    if kind in ("VARCHAR", "TEXT", "STRING") or kind.startswith(("VARCHAR(", "CHAR")):
        return "" if isinstance(sent, str) and got == sent else f"sent {sent!r}, stored {got!r}"
    if kind in _INTEGER_TYPES:
        if _number(sent) and math.isfinite(sent) and float(sent).is_integer():
            expected = int(sent)
        elif isinstance(sent, str) and _ASCII_INT.fullmatch(sent.strip()):
            expected = int(sent)
        else:
            return f"accepted {sent!r} as an integer (only numbers and ASCII digit strings are integers)"
        try:
            return "" if int(got) == expected and not isinstance(got, bool) else f"sent {sent!r}, stored {got!r}"
        except (TypeError, ValueError):
            return f"sent {sent!r}, stored {got!r}"
    if kind.startswith(("DECIMAL", "NUMERIC")):
        scale_match = re.search(r",\s*([0-9]+)\s*\)", kind)
        scale = int(scale_match.group(1)) if scale_match else 0
        if _number(sent) and math.isfinite(sent):
            expected = Decimal(repr(float(sent)))
        elif isinstance(sent, str) and _ASCII_DECIMAL.fullmatch(sent.strip()):
            expected = Decimal(sent.strip())
        else:
            return f"accepted {sent!r} as a decimal (only finite numbers and ASCII digit strings are decimals)"
        shape = rf"-?[0-9]+(\.[0-9]{{{scale}}})" if scale else r"-?[0-9]+"
        if not isinstance(got, str) or not re.fullmatch(shape, got):
            return f"sent {sent!r}, returned {got!r}: not a decimal string with {scale} places"
        if got.startswith("-") and Decimal(got) == 0:
            return f"sent {sent!r}, returned negative zero {got!r}"
        try:
            return "" if Decimal(got) == expected else f"sent {sent!r}, returned {got!r}"
        except InvalidOperation:
            return f"sent {sent!r}, returned {got!r}"
    if kind in ("DOUBLE", "REAL", "FLOAT", "FLOAT8", "FLOAT4"):
        if not (_number(sent) and math.isfinite(sent)):
            return f"accepted {sent!r} as a number"
        return "" if _number(got) and got == sent else f"sent {sent!r}, stored {got!r}"
    if kind in ("BOOLEAN", "BOOL"):
        return "" if isinstance(sent, bool) and got is sent else f"sent {sent!r}, stored {got!r}"
    if kind == "DATE":
        if not (isinstance(sent, str) and _ASCII_DATE.fullmatch(sent)):
            return f"accepted {sent!r} as a date (YYYY-MM-DD in ASCII digits)"
        return "" if got == date.fromisoformat(sent).isoformat() else f"sent {sent!r}, returned {got!r}"
    if kind == "TIMESTAMP":
        expected_instant = _instant(sent) if isinstance(sent, str) else None
        if expected_instant is None:
            return f"accepted {sent!r} as a timestamp (RFC 3339 in ASCII digits)"
        if not (isinstance(got, str) and got.endswith("Z") and _instant(got) == expected_instant):
            return f"sent {sent!r}, returned {got!r}"
        return ""
    if kind == "UUID":
        if isinstance(sent, str) and not sent.isascii():
            return f"accepted {sent!r} as a UUID (hex digits are ASCII)"
        try:
            same = isinstance(sent, str) and isinstance(got, str) and uuid.UUID(sent) == uuid.UUID(got) \
                and got == str(uuid.UUID(got))
        except ValueError:
            same = False
        return "" if same else f"sent {sent!r}, returned {got!r}"
    return ""


# -- the run ------------------------------------------------------------------------------------
class Tally:
    """What the API acknowledged, for the row count (no input retries another: corpus.Builder._fresh)."""

    def __init__(self) -> None:
        self.created: set[str] = set()  # project ids
        self.imported = 0
        self.imported_names: set[str] = set()  # project_name of rows accepted imports wrote
        self.deleted = 0
        self.answers: dict[str, str] = {}  # project_name an input gave its rows -> the input and its answer


def hostile_corpus(count: int | None = None, seed: int = 4) -> Row:
    """Sends the corpus (all of it, or `count` inputs sampled over every RPC and category)."""
    row, watch = Row("hostile-input corpus"), Stopwatch()
    with tempfile.TemporaryDirectory(prefix="chaos-corpus-") as tmp:
        workdir = Path(tmp)
        document = project_document("corpus-1", extra_columns=corpus.EXTRA_COLUMNS)
        with running_ontology(workdir / "ontology", document) as ontology:
            db = workdir / "data" / "corpus.duckdb"
            service = Service(db, workdir, USE_MOCK_ONTO_SERVER="false", ONTO_SERVER_URL=ontology.url,
                              ONTO_CACHE_TTL="3600")
            try:
                service.start()
                _run(row, service, workdir, db, count, seed)
            finally:
                service.close()
    row.seconds = watch.elapsed
    return row


def _run(row: Row, service: Service, workdir: Path, db: Path, count: int | None, seed: int) -> None:
    stubs = service.stubs
    assert stubs is not None and service.channel is not None
    first = pb.CreateProjectRequest()
    first.project.attributes.update(corpus.create_attributes())
    existing = stubs.projects.CreateProject(first, timeout=30)
    tables_before = [t.name for t in stubs.admin.ListTables(admin_pb.ListTablesRequest(), timeout=30).tables]
    everything = corpus.build(existing.name, seed)
    inputs = everything if count is None else corpus.sample(everything, count, seed)
    row.notes["inputs"] = f"{len(inputs)} of {len(everything)}"
    row.notes["RPCs"] = len({i.rpc.name for i in inputs})
    row.notes["categories"] = len({i.category for i in inputs})
    tally = Tally()
    for item in inputs:
        code, error, response = call_raw(service.channel, item.rpc, item.messages)
        row.tried += 1
        if item.name:
            tally.answers[item.name] = f"{_where(item)} answered {code.name}"
        _judge(row, item, code, error, response, tally, stubs, str(workdir))

    _read_back(row, stubs)
    expected = 1 + len(tally.created) + tally.imported - tally.deleted
    row.acknowledged = len(tally.created) + tally.imported + tally.deleted
    listed = stubs.projects.ListProjects(pb.ListProjectsRequest(page_size=1), timeout=30).total_size
    if listed != expected:
        row.problem(f"row count: ListProjects total_size {listed}, the API acknowledged {expected} "
                    f"(1 + {len(tally.created)} created + {tally.imported} imported - {tally.deleted} deleted)")
    tables_after = [t.name for t in stubs.admin.ListTables(admin_pb.ListTablesRequest(), timeout=30).tables]
    if tables_after != tables_before:
        row.problem(f"tables changed: {tables_before} -> {tables_after}")
    errors, tracebacks = service.log_trouble()
    row.notes["log ERROR lines"] = errors
    row.notes["log Tracebacks"] = tracebacks
    if errors or tracebacks:
        row.problem(f"log flood: junk input wrote {errors} ERROR lines and {tracebacks} Tracebacks to the server log "
                    f"(expected none: a caller's mistake is at most a rate-limited WARNING)")
    code, seconds = service.sigterm(STOP_DEADLINE)
    row.exit_seconds.append(seconds)
    if code != 0:
        row.problem(f"exit status {code} after SIGTERM" if code is not None else
                    f"still running {STOP_DEADLINE:g} s after SIGTERM (SHUTDOWN_GRACE_SECONDS is 5)")
        service.process.kill9()
    with duckdb.connect(str(db), read_only=True) as con:
        rows = con.execute("SELECT project_id::VARCHAR, project_name FROM projects").fetchall()
    if len(rows) != expected:
        row.problem(f"row count: the DuckDB file holds {len(rows)} projects, the API acknowledged {expected}")
    ids = {pid for pid, _ in rows}
    missing = tally.created - ids
    if missing:
        row.lost = len(missing)
        row.problem(f"lost: {len(missing)} acknowledged creates are not in the DuckDB file")
    known = tally.created | {existing.name.removeprefix("projects/")}
    for pid, name in rows:
        if pid not in known and name not in tally.imported_names:
            row.problem("a row was written by a call that was not acknowledged",
                        tally.answers.get(name, f"a row named {name!r:.40}"))


def _read_back(row: Row, stubs: Any) -> None:
    """Whatever was accepted can be read: every page of ListProjects, an export in every format."""
    calls: list[tuple[str, Callable[[], Any]]] = [("ListProjects (every page)", lambda: all_projects(stubs, 100))]
    for name in ("EXPORT_FORMAT_ARROW_IPC", "EXPORT_FORMAT_PARQUET", "EXPORT_FORMAT_CSV", "EXPORT_FORMAT_JSONL"):
        request = pb.ExportProjectsRequest(format=pb.ExportFormat.Value(name))
        calls.append((f"ExportProjects {name.removeprefix('EXPORT_FORMAT_')}",
                      lambda r=request: list(stubs.projects.ExportProjects(r, timeout=120))))
    for label, call in calls:
        row.tried += 1
        try:
            call()
        except grpc.RpcError as error:
            if error.code() in (grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN):
                row.internal += 1
            row.problem(f"read back: {label} failed with {error.code().name} after the corpus "
                        f"({(error.details() or '')[:80]!r}): an accepted row cannot be read")


def _where(item: corpus.Input) -> str:
    return f"{item.rpc.name} {item.where} [{item.category}] {item.label}"


def _judge(row: Row, item: corpus.Input, code: grpc.StatusCode, error: Any, response: Any, tally: Tally,
           stubs: Any, workdir: str) -> None:
    """Records what broke a promise as a kind of problem (with the input as its example)."""
    where = _where(item)
    kind = f"[{item.category}]"
    if code in (grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN):
        row.internal += 1
        row.problem(f"{code.name} {(error.details() or '')[:60]!r} for {kind} input", where)
        return
    if code not in ALLOWED and not (code == grpc.StatusCode.UNIMPLEMENTED and not item.rpc.implemented):
        row.problem(f"{code.name} {(error.details() or '')[:60]!r} for {kind} input (not a caller's-mistake "
                    f"status)", where)
        return
    if error is not None:
        rich = rich_error(error)
        info = rich.error_info
        if info is None or info.domain != "duckdbspawn.io" or not info.reason:
            row.problem(f"{code.name} without ErrorInfo for {kind} input", f"{where}: {rich.message[:80]!r}")
        found = leak(rich, item.text, workdir)
        if found:
            row.problem(f"an error shows {found!r} for {kind} input", f"{where}: {rich.message[:120]!r}")
        return
    # Accepted.
    if item.must_refuse:
        row.problem(f"{item.rpc.name} accepted a value protobuf forbids {kind} (INVALID_ARGUMENT expected)", where)
    if item.category == "uuids" and item.where.endswith(("project_id", "request_id")) and not item.text.isascii():
        row.problem(f"{item.rpc.name} accepted a UUID that is not ASCII in {item.where.split('.')[-1]} (its format "
                    f"is UUID4: hex digits are ASCII)", where)
    if item.rpc.name == "CreateProject":
        tally.created.add(response.name.removeprefix("projects/"))
        _round_trip(row, item, response, stubs, where)
    elif item.rpc.name == "BatchCreateProjects":
        for project in response.projects:
            tally.created.add(project.name.removeprefix("projects/"))
            _round_trip(row, item, project, stubs, where)
    elif item.rpc.name == "UpdateProject":
        _round_trip(row, item, response, stubs, where)
    elif item.rpc.name == "ImportProjects":
        tally.imported += response.imported_count
        if response.imported_count:
            tally.imported_names.add(item.name)
        if item.key and response.imported_count:
            row.problem("ImportProjects imported a row with an attribute the schema does not define", where)
    elif item.rpc.name == "DeleteProject":
        tally.deleted += 1


def _round_trip(row: Row, item: corpus.Input, answered: pb.Project, stubs: Any, where: str) -> None:
    stored = stubs.projects.GetProject(pb.GetProjectRequest(name=answered.name), timeout=30)
    if stored != answered:
        differing = sorted(k for k in {*answered.attributes.keys(), *stored.attributes.keys()}
                           if _get(answered, k) != _get(stored, k))
        shown = "; ".join(f"{k}: answered {_get(answered, k)!r}, stored {_get(stored, k)!r}" for k in differing)
        row.problem(f"{item.rpc.name}: GetProject differs from what the write answered [{item.category}]",
                    f"{where}: {shown or 'bookkeeping fields'}")
    if item.key:
        # Create has no mask: an attribute the schema lacks must be refused. Update ignores what its
        # mask does not name (AIP-134), but must not store it.
        if item.rpc.name != "UpdateProject":
            row.problem(f"{item.rpc.name} accepted an attribute the schema does not define", where)
        elif set(stored.attributes) - set(COLUMN_TYPES):
            row.problem("UpdateProject stored an attribute the schema does not define", where)
    if item.sent is None or item.sent.attribute not in COLUMN_TYPES:
        return
    attribute = item.sent.attribute
    got = _plain(stored.attributes[attribute]) if attribute in stored.attributes else None
    if item.sent.value is None and (got is None or got == DEFAULTS.get(attribute)):
        return  # null: no value, or the column's default
    problem = wire_form_problem(COLUMN_TYPES[attribute], item.sent.value, got)
    if problem:
        shape = re.sub(r"'[^']*'|\"[^\"]*\"", "...", problem)  # the kind of problem, without its values
        row.problem(f"round trip of an accepted {COLUMN_TYPES[attribute]} value: {shape}", f"{where}: {problem}")


def _get(project: pb.Project, name: str) -> Any:
    return _plain(project.attributes[name]) if name in project.attributes else None


def _plain(value: Any) -> Any:
    """Struct values as Python: protobuf gives ListValue/Struct views; numbers stay floats."""
    if hasattr(value, "items"):
        return {k: _plain(v) for k, v in value.items()}
    if hasattr(value, "__iter__") and not isinstance(value, str):
        return [_plain(v) for v in value]
    return value
