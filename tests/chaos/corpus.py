"""The hostile-input corpus: every field of every RPC of the three services, by category.

The fields come from walking the request descriptors (tests/support/contract.py
`all_rpcs`), so a new RPC or field is covered by itself: an RPC without a
base request here starts from its empty message. Each input is one field of
an otherwise valid request (`bases`) replaced on the wire (tests/chaos/wire.py),
or a whole body that is not a valid message at all.
"""

from __future__ import annotations

import io
import random
import struct
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from duckdb_spawn.v1 import admin_service_pb2 as admin_pb
from duckdb_spawn.v1 import project_service_pb2 as pb
from google.protobuf import duration_pb2
from google.protobuf.descriptor import FieldDescriptor as F

from tests.chaos import wire
from tests.support.contract import Rpc, all_rpcs
from tests.support.rpc import valid_attributes

MB = 1024 * 1024

# Columns the corpus's ontology schema adds to the mock's, so every type meets hostile values.
EXTRA_COLUMNS = [
    {"name": "start_day", "type": "DATE"}, {"name": "signed_at", "type": "TIMESTAMP"},
    {"name": "ratio", "type": "DOUBLE"}, {"name": "big", "type": "BIGINT"}, {"name": "huge", "type": "HUGEINT"},
    {"name": "flag", "type": "BOOLEAN"}, {"name": "ref", "type": "UUID"},
    {"name": "precise", "type": "DECIMAL(38,10)"},
]
EXTRA_VALUES: dict[str, Any] = {
    "start_day": "2024-02-29", "signed_at": "2024-05-01T12:00:00Z", "ratio": 0.5, "big": "9007199254740993",
    "huge": "1" * 30, "flag": True, "ref": "3f2b8c1e-4d5a-4e6f-8a7b-9c0d1e2f3a4b", "precise": "12345.6789012345",
}

# -- the values --------------------------------------------------------------------------------
# Strings (str) and raw bytes that are not UTF-8 (bytes), by category.
TEXT: dict[str, list[str | bytes]] = {
    "sql-injection": [
        "'; DROP TABLE projects; --", '"; DROP TABLE projects; --', "x' OR '1'='1", "projects; DELETE FROM projects",
        "' UNION SELECT * FROM duckdb_settings() --", "1; ATTACH 'evil.db' AS evil; --",
        "COPY projects TO 'stolen.csv'", "read_csv('/etc/passwd')", "status = \"ACTIVE\" OR 1=1 --",
        "$$; DROP TABLE projects; $$",
    ],
    "quotes": ["'", '"', "''", '""', "`", "\\'", "\\", "O'Brien \"the\" `x`", "’‘“”«»", "'\"`\\"],
    "nul": ["\x00", "projects\x00; DROP TABLE projects", "\x00" * 16, "a\x00b"],
    "utf8-invalid": [b"\xc0\xaf", b"\xff\xfe", b"\x80", b"\xe2\x82", b"\xed\xa0\x80", b"abc\xf5\x80\x80\x80",
                     b"\xf8\x88\x80\x80\x80"],
    "utf8-overlong": [b"\xc0\x80", b"\xe0\x80\xaf", b"\xf0\x80\x80\xaf", b"\xc1\xbf", b"\xe0\x80\x80"],
    "unicode": ["\u202eprojects", "ｐｒｏｊｅｃｔｓ", "projects\u200b", "𝐩𝐫𝐨𝐣𝐞𝐜𝐭𝐬", "\ufeffprojects",
                "e\u0301" * 50, "🦆" * 10, "\u2028\u2029", "\U0010ffff", "Ⅻ"],
    "huge-string": ["x" * MB, "🦆" * (MB // 4)],
    "dates": ["2023-02-30", "0000-01-01", "2023-01-01T24:61:00Z", "2023-13-01", "9999-12-31T23:59:60Z",
              "-0001-01-01", "2024-02-29", "2024-02-29T12:00:00.123456789Z", "2024-01-01T00:00:00+14:00",
              "1970-01-01t00:00:00z"],
    "decimals": ["1" * 100, "0." + "1" * 100, "1e400", "-0", "١٢٣", "١٢٣.٤٥", "+5", " 12 ", "0x10", "Infinity",
                 "NaN", "1_000", "12.345678", "-99999999999999999999.99"],
    "uuids": ["", "not-a-uuid", "00000000-0000-0000-0000-000000000000", "3f2b8c1e-4d5a-4e6f-8a7b-9c0d1e2f3a4",
              "3f2b8c1e4d5a4e6f8a7b9c0d1e2f3a4b", "{3f2b8c1e-4d5a-4e6f-8a7b-9c0d1e2f3a4b}",
              "urn:uuid:3f2b8c1e-4d5a-4e6f-8a7b-9c0d1e2f3a4b", "３a7c0d2e-5b6f-4a1c-9d8e-7f6a5b4c3d2e",
              "3F2B8C1E-4D5A-4E6F-8A7B-9C0D1E2F3A4B", "3f2b8c1e-4d5a-4e6f-8a7b-9c0d1e2f3a4bX"],
}
DOUBLES = [float("nan"), float("inf"), float("-inf"), 1e308, -1e308, 5e-324, -0.0, 2.0**53 + 2, 0.1 + 0.2, -1.0]
INTEGERS = [-1, -(2**31), 2**31 - 1, 2**31, 2**40, 2**63 - 1, -(2**63)]
ENUMS = [999, -1, 2**31 - 1]
BOOLS = [2, 2**64 - 1]
# (seconds, nanos): each breaks protobuf's Duration rules (|seconds| <= 315576000000, |nanos| <= 999999999,
# both with the same sign).
INVALID_DURATIONS = [(0, 1_999_999_999), (1, -1), (-1, 1), (0, -1_000_000_000), (315_576_000_001, 0),
                     (2**63 - 1, 0), (-(2**63), 0)]
ODD_TIMESTAMPS = [(-62_135_596_801, 0), (253_402_300_800, 0), (0, -1), (0, 1_000_000_000), (2**63 - 1, 0)]
STRUCT_DEPTHS = [(33, "struct"), (64, "struct"), (100, "struct"), (33, "list"), (100, "list"), (200, "mixed")]

CATEGORIES = (*TEXT, "numbers", "enums", "durations", "timestamps", "deep-nesting", "type-confusion",
              "arrow-parquet", "protobuf-body")


@dataclass(frozen=True)
class Sent:
    """A value put into an attribute, as the client sent it (for the round trip)."""

    attribute: str
    value: Any  # str, float, bool, None, list or dict; bytes when it was not UTF-8


@dataclass(frozen=True)
class Input:
    rpc: Rpc
    category: str
    where: str  # the field ("body" for whole-body inputs)
    label: str  # a short description of the value
    messages: tuple[bytes, ...]  # one request (a stream's messages for client streaming)
    text: str = ""  # the hostile text, for telling an echo from a leak
    sent: Sent | None = None
    key: bool = False  # the text went into an attribute name
    request_id: str = ""  # the request id the call carries
    name: str = ""  # the project_name its projects get (unless the hostile value went there)
    must_refuse: bool = False  # an invalid value protobuf itself forbids: INVALID_ARGUMENT expected

    @property
    def group(self) -> tuple[str, str]:
        return self.rpc.name, self.category


def _label(value: Any) -> str:
    shown = repr(value)
    return shown if len(shown) <= 40 else f"{shown[:30]}...({len(value) if hasattr(value, '__len__') else ''})"


# -- the valid requests each input starts from ------------------------------------------------------
def create_attributes() -> dict[str, Any]:
    return {**valid_attributes(project_name="corpus"), **EXTRA_VALUES}


def bases(existing: str) -> dict[str, Any]:
    """A valid request per RPC reaching deep into it; a list for client streaming.

    Nothing here destroys what later inputs need: the table to delete does
    not exist, UpdateTable is a dry run, the project to delete is missing.
    """
    create = pb.CreateProjectRequest(request_id="0")
    create.project.attributes.update(create_attributes())
    update = pb.UpdateProjectRequest(project=pb.Project(name=existing), request_id="0")
    update.project.attributes.update({**create_attributes(), "project_name": "corpus updated"})
    update.update_mask.paths.extend(f"attributes.{name}" for name in create_attributes())
    imported = pb.ImportProjectsRequest(mode=pb.IMPORT_MODE_ATOMIC, request_id="0")
    imported.struct_rows.rows.add().update({**create_attributes(), "project_name": "imported"})
    nested = pb.CreateProjectRequest()
    nested.project.attributes.update(create_attributes())
    return {
        "CreateProject": create,
        "GetProject": pb.GetProjectRequest(name=existing),
        "ListProjects": pb.ListProjectsRequest(page_size=5, filter='status = "ACTIVE"', order_by="project_name"),
        "UpdateProject": update,
        "DeleteProject": pb.DeleteProjectRequest(name=f"projects/{uuid.UUID(int=7)}", etag="0123456789abcdef"),
        "BatchCreateProjects": pb.BatchCreateProjectsRequest(requests=[nested], request_id="0"),
        "ImportProjects": [imported],
        "ExportProjects": pb.ExportProjectsRequest(format=pb.EXPORT_FORMAT_JSONL, filter='status = "ACTIVE"',
                                                   order_by="project_name"),
        "SummarizeProjects": pb.SummarizeProjectsRequest(
            filter='status = "ACTIVE"', group_by=["status"],
            aggregations=[pb.Aggregation(function=pb.AGGREGATE_FUNCTION_PERCENTILE, field="total_amount",
                                         percentile=0.5, alias="median")]),
        "ListProjectChanges": pb.ListProjectChangesRequest(page_size=5),
        "WatchProjects": pb.WatchProjectsRequest(progress_interval=duration_pb2.Duration(seconds=1)),
        "InitializeDatabase": pb.InitializeDatabaseRequest(),
        "CreateTables": admin_pb.CreateTablesRequest(),
        "ListTables": admin_pb.ListTablesRequest(page_size=5),
        "GetTable": admin_pb.GetTableRequest(name="tables/projects"),
        "UpdateTable": admin_pb.UpdateTableRequest(name="tables/projects", dry_run=True),
        "DeleteTable": admin_pb.DeleteTableRequest(name="tables/chaos_absent"),
        "RefreshSchemas": admin_pb.RefreshSchemasRequest(names=["schemas/project_schema"]),
        "GetSchema": admin_pb.GetSchemaRequest(name="schemas/project_schema"),
        "SetLogLevel": admin_pb.SetLogLevelRequest(level="INFO"),
    }


# -- where values go ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Slot:
    path: wire.Path
    kind: str  # string, bytes, number, enum, bool, duration, timestamp, struct-key, struct-value
    field: F
    prefix: bytes = b""  # a collection prefix ("tables/") put before the value
    attribute: str = ""  # for struct values: the attribute

    @property
    def where(self) -> str:
        return ".".join(map(str, self.path)) + (f" ({self.prefix.decode()}...)" if self.prefix else "")


def slots(message: Any, path: wire.Path = (), depth: int = 0) -> Iterator[Slot]:
    """Every place a hostile value can go in `message`, given its content."""
    if depth > 8:
        return
    for field in message.DESCRIPTOR.fields:
        value = getattr(message, field.name)
        step: wire.Path = (*path, field.name, 0) if field.is_repeated else (*path, field.name)
        if field.type == F.TYPE_MESSAGE:
            full = field.message_type.full_name
            if field.is_repeated and not len(value):
                continue
            inner = value[0] if field.is_repeated else value
            if full == "google.protobuf.Struct":
                yield Slot((*step, "fields"), "struct-key", field)
                for name in inner.fields:
                    yield Slot((*step, "fields", name), "struct-value", field, attribute=name)
            elif full == "google.protobuf.Duration":
                yield Slot(step, "duration", field)
            elif full == "google.protobuf.Timestamp":
                yield Slot(step, "timestamp", field)
            elif full.startswith("google.protobuf.") and full != "google.protobuf.FieldMask":
                continue
            else:
                yield from slots(inner, step, depth + 1)
        elif field.type == F.TYPE_STRING:
            yield Slot(step, "string", field)
            current = (value[0] if len(value) else "") if field.is_repeated else value
            if "/" in current:
                yield Slot(step, "string", field, current[: current.rindex("/") + 1].encode())
            elif current.startswith("attributes."):
                yield Slot(step, "string", field, b"attributes.")
        elif field.type == F.TYPE_BYTES:
            yield Slot(step, "bytes", field)
        elif field.type == F.TYPE_ENUM:
            yield Slot(step, "enum", field)
        elif field.type == F.TYPE_BOOL:
            yield Slot(step, "bool", field)
        else:
            yield Slot(step, "number", field)


# -- Arrow and Parquet ----------------------------------------------------------------------------
def _ipc(table: pa.Table, **options: Any) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema, options=pa.ipc.IpcWriteOptions(**options)) as writer:
        writer.write_table(table)
    return sink.getvalue().to_pybytes()


def _arrow_row(**replace: Any) -> pa.Table:
    row = {**create_attributes(), "project_name": "arrow import"}
    columns: dict[str, Any] = {name: pa.array([value]) for name, value in row.items()
                               if name not in ("maturity_years", "flag", "ratio")}
    columns["maturity_years"] = pa.array([15], pa.int32())
    columns["flag"] = pa.array([True])
    columns["ratio"] = pa.array([0.5])
    columns.update(replace)
    return pa.table(columns)


SQL_COLUMN = 'x"; DROP TABLE projects; --'


def arrow_name(payload: bytes) -> str:
    """The project_name of an Arrow IPC stream's first row ('' when there is none to read)."""
    try:
        return str(pa.ipc.open_stream(payload).read_all().column("project_name")[0].as_py())
    except Exception:  # noqa: BLE001 - garbage is the point of these payloads
        return ""


def arrow_payloads(rng: random.Random) -> list[tuple[str, bytes]]:
    """Garbage and hostile Arrow IPC / Parquet bodies for ImportProjects.arrow_ipc."""
    valid = _ipc(_arrow_row())
    invalid_utf8 = pa.Array.from_buffers(pa.string(), 1, [None, pa.py_buffer(struct.pack("<ii", 0, 2)),
                                                          pa.py_buffer(b"\xc0\xaf")])
    parquet = io.BytesIO()
    pq.write_table(_arrow_row(), parquet)
    file_format = pa.BufferOutputStream()
    with pa.ipc.new_file(file_format, _arrow_row().schema) as writer:
        writer.write_table(_arrow_row())
    schema_only = pa.BufferOutputStream()
    pa.ipc.new_stream(schema_only, _arrow_row().schema).close()
    return [
        ("garbage text", b"not arrow at all"),
        ("random 1 KiB", rng.randbytes(1024)),
        ("empty", b""),
        ("end-of-stream marker only", b"\xff\xff\xff\xff\x00\x00\x00\x00"),
        ("metadata length 2^31-1", b"\xff\xff\xff\xff" + struct.pack("<i", 2**31 - 1) + rng.randbytes(64)),
        ("truncated stream", valid[: len(valid) // 2]),
        ("stream minus its last byte", valid[:-1]),
        ("schema only", schema_only.getvalue().to_pybytes()),
        ("Arrow file format", file_format.getvalue().to_pybytes()),
        ("Parquet", parquet.getvalue()),
        ("Parquet magic only", b"PAR1" + rng.randbytes(32) + b"PAR1"),
        ("string_view column", _ipc(_arrow_row(project_name=pa.array(["sv"], pa.string_view())))),
        ("string column with invalid UTF-8", _ipc(_arrow_row(project_name=invalid_utf8))),
        ("large_string column", _ipc(_arrow_row(project_name=pa.array(["ls"], pa.large_string())))),
        ("dictionary column", _ipc(_arrow_row(status=pa.array(["ACTIVE"]).dictionary_encode()))),
        ("decimal256 with 70 digits", _ipc(_arrow_row(total_amount=pa.array(["9" * 70]).cast(pa.decimal256(76, 0))))),
        ("float NaN amount", _ipc(_arrow_row(total_amount=pa.array([float("nan")])))),
        ("float inf amount", _ipc(_arrow_row(total_amount=pa.array([float("inf")])))),
        ("SQL in a column name", _ipc(_arrow_row(**{SQL_COLUMN: pa.array(["y"])}))),
        ("duplicate column names", _ipc(pa.Table.from_arrays([pa.array(["a"]), pa.array(["b"])],
                                                             names=["project_name", "project_name"]))),
        ("struct column", _ipc(_arrow_row(description=pa.array([{"a": 1}])))),
        ("list column", _ipc(_arrow_row(description=pa.array([["a", "b"]])))),
        ("date32 beyond year 9999", _ipc(_arrow_row(start_day=pa.array([2**31 - 1], pa.int32()).cast(pa.date32())))),
        ("timestamp[ns] at int64 max", _ipc(_arrow_row(
            signed_at=pa.array([2**63 - 1], pa.int64()).cast(pa.timestamp("ns"))))),
        ("uuid as 16 bytes", _ipc(_arrow_row(ref=pa.array([uuid.UUID(int=5).bytes], pa.binary(16))))),
        ("zstd-compressed stream", _ipc(_arrow_row(), compression="zstd")),
        ("null in a required column", _ipc(_arrow_row(project_name=pa.array([None], pa.string())))),
    ]


# -- whole bodies that are not valid messages --------------------------------------------------------
def bad_bodies(valid: bytes, rng: random.Random) -> list[tuple[str, bytes]]:
    bodies = [
        ("garbage 16 B", rng.randbytes(16)), ("garbage 256 B", rng.randbytes(256)),
        ("garbage 4 KiB", rng.randbytes(4096)), ("0xff x 10", b"\xff" * 10),
        ("length beyond the end", wire.tag(1, wire.LENGTH) + wire.varint(2**31) + b"x"),
        ("group start without end", wire.tag(1, 3)), ("field number 0", b"\x00\x01"),
        ("11-byte varint", wire.tag(1, wire.VARINT) + b"\xff" * 10 + b"\x01"),
        ("wrong wire type for field 1", wire.tag(1, wire.FIXED32) + b"\x00\x00\x00"),
    ]
    if len(valid) > 2:
        bodies += [("truncated to half", valid[: len(valid) // 2]), ("truncated by one byte", valid[:-1]),
                   ("first byte only", valid[:1])]
    return bodies


def _name_projects(message: Any, name: str) -> None:
    """Sets `project_name` in every Struct of `message` that has one."""
    for field in message.DESCRIPTOR.fields:
        if field.type != F.TYPE_MESSAGE or field.message_type.GetOptions().map_entry:
            continue
        value = getattr(message, field.name)
        for item in (value if field.is_repeated else [value]):
            if field.message_type.full_name == "google.protobuf.Struct":
                if "project_name" in item.fields:
                    item["project_name"] = name
            elif not field.message_type.full_name.startswith("google.protobuf."):
                _name_projects(item, name)


# -- building the inputs ------------------------------------------------------------------------
class Builder:
    def __init__(self, existing: str, seed: int) -> None:
        self.rng = random.Random(seed)
        self.bases = bases(existing)
        self.arrow = arrow_payloads(self.rng)
        self.serial = 0

    def _fresh(self, message: Any) -> tuple[Any, str, str]:
        """A copy with a new request id (when it has one) and a project_name of its own.

        So no input can be a retry of another: whatever a server makes of two
        spellings of one request id, two bodies always differ, and what the
        API acknowledges is exactly what was written.
        """
        copy = type(message)()
        copy.CopyFrom(message)
        self.serial += 1
        name = f"corpus {self.serial}"
        _name_projects(copy, name)
        request_id = ""
        if "request_id" in copy.DESCRIPTOR.fields_by_name:
            request_id = str(uuid.UUID(int=self.rng.getrandbits(128), version=4))
            copy.request_id = request_id
        return copy, request_id, name

    def inputs(self) -> list[Input]:
        found: list[Input] = []
        for rpc in all_rpcs():
            base = self.bases.get(rpc.name, rpc.request_class())
            stream = isinstance(base, list)
            first = base[0] if stream else base
            for slot in slots(first):
                for category, label, leaf, text, sent, must_refuse, own_name in self._values(slot):
                    message, request_id, name = self._fresh(first)
                    if slot.path[0] == "request_id":
                        request_id = text
                    body = wire.place(message, slot.path, leaf)
                    found.append(Input(rpc, category, slot.where, label, (body,), text=text, sent=sent,
                                       key=slot.kind == "struct-key", request_id=request_id,
                                       name=name if own_name is None else own_name,
                                       must_refuse=must_refuse))
            for label, body in bad_bodies(first.SerializeToString(), self.rng):
                found.append(Input(rpc, "protobuf-body", "body", label, (body,)))
                if stream:  # a good message, then the bad one
                    message, request_id, name = self._fresh(first)
                    found.append(Input(rpc, "protobuf-body", "body (2nd message)", label,
                                       (message.SerializeToString(), body), request_id=request_id, name=name))
        return found

    def _values(self, slot: Slot) -> Iterator[tuple[str, str, wire.Leaf, str, Sent | None, bool, str | None]]:
        """(category, label, leaf, text, sent, must_refuse, name) for each value that fits `slot`.

        `name` is the project_name the input's rows carry when the value puts one there (None otherwise).
        """
        if slot.kind in ("string", "struct-key", "struct-value"):
            for category, values in TEXT.items():
                for value in values:
                    raw = value if isinstance(value, bytes) else value.encode()
                    text = value.decode("utf-8", "replace") if isinstance(value, bytes) else value
                    if slot.kind == "string":
                        yield category, _label(value), wire.leaf_scalar(slot.prefix + raw), text, None, False, None
                    elif slot.kind == "struct-key":
                        yield (category, _label(value), wire.leaf_struct_entry(raw, wire.value_string(b"x")), text,
                               None, False, None)
                    else:
                        yield (category, _label(value), self._struct_value(slot, wire.value_string(raw)), text,
                               Sent(slot.attribute, value), False, text if slot.attribute == "project_name" else None)
        if slot.kind == "struct-value":
            for number in DOUBLES:
                yield ("numbers", _label(number), self._struct_value(slot, wire.value_number(number)), "",
                       Sent(slot.attribute, number), False, None)
            for depth, kind in STRUCT_DEPTHS:
                yield ("deep-nesting", f"{kind} x{depth}", self._struct_value(slot, wire.deep_value(depth, kind)),
                       "", None, False, None)
            confusions: list[tuple[str, bytes, Any]] = [
                ("null", wire.value_null(), None), ("true", wire.value_bool(True), True),
                ("[]", wire.value_list([]), []), ("{}", wire.value_struct({}), {}),
                ("['a']", wire.value_list([wire.value_string(b"a")]), ["a"])]
            for label, payload, value in confusions:
                yield ("type-confusion", label, self._struct_value(slot, payload), "", Sent(slot.attribute, value),
                       False, None)
        elif slot.kind == "bytes":
            for label, payload in self.arrow:
                # An error may name the payload's columns: the SQL-named one is the caller's own text.
                yield ("arrow-parquet", label, wire.leaf_scalar(payload), SQL_COLUMN, None, False,
                       arrow_name(payload) or None)
        elif slot.kind == "number":
            values: list[Any] = DOUBLES if slot.field.type in (F.TYPE_DOUBLE, F.TYPE_FLOAT) else INTEGERS
            for number in values:
                yield "numbers", _label(number), wire.leaf_scalar(number), "", None, False, None
        elif slot.kind == "enum":
            for number in ENUMS:
                yield "enums", _label(number), wire.leaf_scalar(number), "", None, False, None
        elif slot.kind == "bool":
            for number in BOOLS:
                yield "numbers", f"bool as varint {number}", wire.leaf_scalar(number), "", None, False, None
        elif slot.kind == "duration":
            for seconds, nanos in INVALID_DURATIONS:
                yield ("durations", f"seconds={seconds} nanos={nanos}",
                       wire.leaf_message(wire.duration(seconds, nanos)), "", None, True, None)
        elif slot.kind == "timestamp":
            for seconds, nanos in ODD_TIMESTAMPS:
                yield ("timestamps", f"seconds={seconds} nanos={nanos}",
                       wire.leaf_message(wire.duration(seconds, nanos)), "", None, False, None)

    @staticmethod
    def _struct_value(slot: Slot, payload: bytes) -> wire.Leaf:
        return wire.leaf_struct_entry(slot.attribute.encode(), payload)


def build(existing: str, seed: int = 4) -> list[Input]:
    """Every input, in a fixed order."""
    return Builder(existing, seed).inputs()


def sample(inputs: list[Input], count: int, seed: int = 4) -> list[Input]:
    """`count` inputs (all when fewer), spread over every RPC and category, then over every field.

    Round robin: first inputs until every RPC and every category has one,
    then one of each (RPC, category), then one of each (RPC, category,
    field), and so on; every choice is seeded.
    """
    if count >= len(inputs):
        return list(inputs)
    rng = random.Random(seed)
    by_field: dict[tuple[str, str, str], list[Input]] = {}
    for item in inputs:
        by_field.setdefault((*item.group, item.where), []).append(item)
    for items in by_field.values():
        rng.shuffle(items)
    chosen: list[Input] = []
    taken: set[int] = set()
    groups: dict[tuple[str, str], list[tuple[str, str, str]]] = {}
    for key in by_field:
        groups.setdefault(key[:2], []).append(key)
    # Pass 0: every RPC and every category at least once; pass 1: every (RPC, category); then every field.
    pass_zero, rpcs, categories = [], set(), set()
    for key in sorted(groups, key=lambda k: rng.random()):
        if key[0] not in rpcs or key[1] not in categories:
            pass_zero.append(rng.choice(groups[key]))
            rpcs.add(key[0])
            categories.add(key[1])
    pass_one = [rng.choice(keys) for keys in groups.values()]
    every_field = list(by_field)
    rng.shuffle(every_field)
    for keys in [pass_zero, pass_one, *([every_field] * count)]:
        for key in keys:
            item = next((i for i in by_field[key] if id(i) not in taken), None)
            if item is not None:
                taken.add(id(item))
                chosen.append(item)
            if len(chosen) >= count:
                return chosen
    return chosen
