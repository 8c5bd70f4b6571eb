"""Conversion between AdminService messages and domain objects, nothing else."""

from __future__ import annotations

from duckdb_spawn.v1 import admin_service_pb2 as pb
from google.protobuf import duration_pb2

from ..domain.names import schema_name
from ..domain.schema import Column
from ..domain.schema_registry import RefreshOutcome, RefreshReport, SchemaInfo, SchemaSource
from ..domain.values import to_json_value
from .convert import timestamp

_SOURCES = {
    SchemaSource.SERVER: pb.SCHEMA_SOURCE_SERVER,
    SchemaSource.CACHE: pb.SCHEMA_SOURCE_CACHE,
    SchemaSource.DISK: pb.SCHEMA_SOURCE_DISK,
    SchemaSource.MOCK: pb.SCHEMA_SOURCE_MOCK,
}
_OUTCOMES = {
    RefreshOutcome.UNCHANGED: pb.REFRESH_OUTCOME_UNCHANGED,
    RefreshOutcome.UPDATED: pb.REFRESH_OUTCOME_UPDATED,
    RefreshOutcome.FAILED: pb.REFRESH_OUTCOME_FAILED,
}


def _text(value: object) -> str:
    """A typed value as the attribute text clients send (decimals exact, dates ISO)."""
    shown = to_json_value(value)
    if isinstance(shown, float) and shown.is_integer():
        return str(int(shown))
    return str(shown).lower() if isinstance(shown, bool) else str(shown)


def column_to_proto(column: Column) -> pb.Column:
    return pb.Column(
        name=column.name, type=column.type.sql, required=column.required,
        default_value=_text(column.default) if column.default is not None else "",
        description=column.description, system_managed=column.system_managed,
        allowed_values=[_text(v) for v in column.enum or ()],
        minimum=str(column.minimum) if column.minimum is not None else "",
        maximum=str(column.maximum) if column.maximum is not None else "",
        pattern=column.pattern or "", max_length=column.max_length or 0,
    )


def duration(seconds: float) -> duration_pb2.Duration:
    value = duration_pb2.Duration()
    value.FromNanoseconds(int(max(seconds, 0.0) * 1e9))
    return value


def schema_to_proto(info: SchemaInfo) -> pb.Schema:
    schema = info.schema
    message = pb.Schema(
        name=schema_name(info.schema_id), table=schema.table_name, description=schema.description,
        columns=[column_to_proto(c) for c in schema.columns], version=schema.version, etag=info.etag,
        source=_SOURCES[info.source], format=schema.source_format, last_error=info.last_error,
    )
    if info.fetched_at is not None:
        message.fetch_time.CopyFrom(timestamp(info.fetched_at))
    if info.age_seconds is not None:
        message.age.CopyFrom(duration(info.age_seconds))
    return message


def refresh_to_proto(report: RefreshReport, step_to_proto=None) -> pb.SchemaRefreshResult:  # type: ignore[no-untyped-def]
    result = pb.SchemaRefreshResult(
        schema=schema_name(report.schema_id), outcome=_OUTCOMES[report.outcome],
        previous_version=report.previous_version, version=report.version, message=report.message)
    if step_to_proto is not None:
        result.applied_steps.extend(step_to_proto(s) for s in report.applied_steps)
        result.pending_steps.extend(step_to_proto(s) for s in report.pending_steps)
    return result
