"""Conversion between AdminService messages and domain objects, nothing else."""

from __future__ import annotations

from duckdb_spawn.v1 import admin_service_pb2 as pb
from google.protobuf import duration_pb2

from ..domain.migration import MigrationStep, StepAction, StepSafety
from ..domain.names import schema_name, table_name
from ..domain.schema import Column
from ..domain.schema_registry import RefreshOutcome, RefreshReport, SchemaInfo, SchemaSource
from ..domain.tables import TableInfo
from ..domain.values import to_text as _text
from .convert import timestamp

_SOURCES = {
    SchemaSource.SERVER: pb.SCHEMA_SOURCE_SERVER,
    SchemaSource.CACHE: pb.SCHEMA_SOURCE_CACHE,
    SchemaSource.DISK: pb.SCHEMA_SOURCE_DISK,
    SchemaSource.MOCK: pb.SCHEMA_SOURCE_MOCK,
}
_ACTIONS = {
    StepAction.ADD_COLUMN: pb.STEP_ACTION_ADD_COLUMN,
    StepAction.DROP_COLUMN: pb.STEP_ACTION_DROP_COLUMN,
    StepAction.ALTER_TYPE: pb.STEP_ACTION_ALTER_TYPE,
    StepAction.SET_NOT_NULL: pb.STEP_ACTION_SET_NOT_NULL,
    StepAction.DROP_NOT_NULL: pb.STEP_ACTION_DROP_NOT_NULL,
    StepAction.SET_DEFAULT: pb.STEP_ACTION_SET_DEFAULT,
    StepAction.DROP_DEFAULT: pb.STEP_ACTION_DROP_DEFAULT,
}
_SAFETY = {
    StepSafety.SAFE: pb.STEP_SAFETY_SAFE,
    StepSafety.NEEDS_DEFAULT: pb.STEP_SAFETY_NEEDS_DEFAULT,
    StepSafety.DESTRUCTIVE: pb.STEP_SAFETY_DESTRUCTIVE,
}
_OUTCOMES = {
    RefreshOutcome.UNCHANGED: pb.REFRESH_OUTCOME_UNCHANGED,
    RefreshOutcome.UPDATED: pb.REFRESH_OUTCOME_UPDATED,
    RefreshOutcome.FAILED: pb.REFRESH_OUTCOME_FAILED,
}


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


def step_to_proto(step: MigrationStep) -> pb.MigrationStep:
    return pb.MigrationStep(
        action=_ACTIONS[step.action], column=step.column, safety=_SAFETY[step.safety], reason=step.reason,
        from_type=step.from_type.sql if step.from_type else "", to_type=step.to_type.sql if step.to_type else "")


def refresh_to_proto(report: RefreshReport) -> pb.SchemaRefreshResult:
    return pb.SchemaRefreshResult(
        schema=schema_name(report.schema_id), outcome=_OUTCOMES[report.outcome],
        previous_version=report.previous_version, version=report.version, message=report.message,
        applied_steps=[step_to_proto(s) for s in report.applied_steps if isinstance(s, MigrationStep)],
        pending_steps=[step_to_proto(s) for s in report.pending_steps if isinstance(s, MigrationStep)])


def table_to_proto(info: TableInfo) -> pb.Table:
    return pb.Table(
        name=table_name(info.name),
        schema=schema_name(info.schema_id),
        columns=[pb.Column(name=c.name, type=c.type, required=c.required, default_value=c.default or "")
                 for c in info.columns],
        row_count=info.row_count,
        schema_version=info.schema_version,
        in_sync=info.in_sync,
        pending_steps=[step_to_proto(s) for s in info.pending_steps],
        protected=info.protected,
    )
