"""Conversion between protobuf messages and domain objects, nothing else."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from duckdb_spawn.v1 import project_service_pb2 as pb
from google.protobuf import struct_pb2, timestamp_pb2
from google.protobuf.message import Message
from google.rpc import error_details_pb2

from ..domain.columnar import MISSING
from ..domain.errors import FieldViolation, InvalidArgument
from ..domain.imports import ImportMode, ImportReport, StructRows
from ..domain.queries import ExportFormat
from ..domain.records import ProjectRecord
from ..domain.summaries import AggregateFunction, AggregationSpec, Summary
from ..domain.values import to_json_value


def struct_to_dict(struct: struct_pb2.Struct) -> dict[str, Any]:
    """Struct -> {name: str | float | bool | None | nested message}.

    Nested lists and objects stay protobuf messages; validation rejects them
    as type mismatches, since no ontology type holds them.
    """
    return dict(struct.items())


def struct_rows_to_columns(rows: Sequence[struct_pb2.Struct]) -> StructRows:
    """Import rows read straight into columns, each value as `struct_to_dict` gives it."""
    count = len(rows)
    columns: dict[str, list[Any]] = {}
    for index, row in enumerate(rows):
        for name, value in row.fields.items():
            column = columns.get(name)
            if column is None:
                column = columns[name] = [MISSING] * count
            kind = value.WhichOneof("kind")
            column[index] = None if kind is None or kind == "null_value" else getattr(value, kind)
    return StructRows(count, columns)


_EPOCH = datetime(1970, 1, 1)


def timestamp(moment: datetime) -> timestamp_pb2.Timestamp:
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    # Integer arithmetic on the timedelta: exact, and a fraction of FromDatetime's cost.
    delta = moment - _EPOCH
    return timestamp_pb2.Timestamp(seconds=delta.days * 86400 + delta.seconds, nanos=delta.microseconds * 1000)


def project_to_proto(record: ProjectRecord) -> pb.Project:
    project = pb.Project(
        name=record.name,
        create_time=timestamp(record.create_time),
        update_time=timestamp(record.update_time),
        etag=record.etag,
        schema_version=record.schema_version,
    )
    fill_struct(project.attributes, record.attributes)
    return project


def fill_struct(target: struct_pb2.Struct, values: Mapping[str, Any]) -> None:
    """Sets each typed value in its wire form (every response does this for every attribute)."""
    fields = target.fields
    for name, value in values.items():
        shown = to_json_value(value)
        kind = type(shown)
        if kind is str:
            fields[name].string_value = shown
        elif kind is float:
            fields[name].number_value = shown
        elif kind is bool:
            fields[name].bool_value = shown
        else:  # to_json_value gives str, float, bool or None
            fields[name].null_value = struct_pb2.NULL_VALUE


# -- request ids ----------------------------------------------------------------------

def request_fingerprint(request: Message) -> str:
    """A hash of the request without its `request_id`: what "the same request" means (AIP-155)."""
    hasher = RequestHasher()
    hasher.add(request)
    return hasher.hexdigest()


class RequestHasher:
    """Fingerprints a request, or a stream of them, ignoring `request_id` fields."""

    def __init__(self) -> None:
        self._hash = hashlib.sha256()

    def add(self, message: Message) -> None:
        if getattr(message, "request_id", ""):
            copy = type(message)()
            copy.CopyFrom(message)
            copy.ClearField("request_id")  # type: ignore[arg-type]
            message = copy
        data = message.SerializeToString(deterministic=True)
        self._hash.update(len(data).to_bytes(8, "big"))
        self._hash.update(data)

    def hexdigest(self) -> str:
        return self._hash.hexdigest()


# -- bulk ----------------------------------------------------------------------------

_IMPORT_MODES = {
    pb.IMPORT_MODE_UNSPECIFIED: ImportMode.ATOMIC,
    pb.IMPORT_MODE_ATOMIC: ImportMode.ATOMIC,
    pb.IMPORT_MODE_BEST_EFFORT: ImportMode.BEST_EFFORT,
}
_EXPORT_FORMATS = {
    pb.EXPORT_FORMAT_UNSPECIFIED: ExportFormat.ARROW_IPC,
    pb.EXPORT_FORMAT_ARROW_IPC: ExportFormat.ARROW_IPC,
    pb.EXPORT_FORMAT_PARQUET: ExportFormat.PARQUET,
    pb.EXPORT_FORMAT_CSV: ExportFormat.CSV,
    pb.EXPORT_FORMAT_JSONL: ExportFormat.JSONL,
}
_FUNCTIONS = {
    pb.AGGREGATE_FUNCTION_COUNT: AggregateFunction.COUNT,
    pb.AGGREGATE_FUNCTION_SUM: AggregateFunction.SUM,
    pb.AGGREGATE_FUNCTION_AVG: AggregateFunction.AVG,
    pb.AGGREGATE_FUNCTION_MIN: AggregateFunction.MIN,
    pb.AGGREGATE_FUNCTION_MAX: AggregateFunction.MAX,
    pb.AGGREGATE_FUNCTION_PERCENTILE: AggregateFunction.PERCENTILE,
}


def _enum(table: dict[int, Any], value: int, field_name: str) -> Any:
    if value not in table:
        description = f"unknown value {value}"
        raise InvalidArgument(f"{field_name} has an {description}",
                              violations=[FieldViolation(field_name, description, "INVALID_ENUM")],
                              reason="INVALID_ENUM")
    return table[value]


def import_mode_from_proto(value: int) -> ImportMode:
    return _enum(_IMPORT_MODES, value, "mode")  # type: ignore[no-any-return]


def export_format_from_proto(value: int) -> ExportFormat:
    return _enum(_EXPORT_FORMATS, value, "format")  # type: ignore[no-any-return]


def aggregation_from_proto(aggregation: pb.Aggregation) -> AggregationSpec:
    return AggregationSpec(_FUNCTIONS.get(aggregation.function), aggregation.field, aggregation.percentile,
                           aggregation.alias)


def import_report_to_proto(report: ImportReport) -> pb.ImportProjectsResponse:
    return pb.ImportProjectsResponse(
        received_count=report.received, imported_count=report.imported, failed_count=report.failed,
        errors_truncated=report.truncated,
        errors=[pb.ImportRowError(row_number=e.row_number, field_violations=[
            error_details_pb2.BadRequest.FieldViolation(field=v.field, description=v.description, reason=v.reason)
            for v in e.violations]) for e in report.errors])


def summary_to_proto(summary: Summary) -> pb.SummarizeProjectsResponse:
    response = pb.SummarizeProjectsResponse(columns=[pb.SummaryColumn(name=c.name, type=c.type)
                                                     for c in summary.columns])
    for row in summary.rows:
        values = struct_pb2.ListValue()
        values.extend([to_json_value(v) for v in row])
        response.rows.append(pb.SummaryRow(values=values.values))
    return response
