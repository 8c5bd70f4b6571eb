"""Protobuf responses -> the client's dataclasses (and Python times -> Timestamps). Conversion only."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from duckdb_spawn.v1 import admin_service_pb2 as admin_pb
from duckdb_spawn.v1 import monitoring_service_pb2 as monitoring_pb
from duckdb_spawn.v1 import project_service_pb2 as project_pb
from google.protobuf import duration_pb2, json_format, timestamp_pb2

from . import models
from .errors import FieldViolation
from .values import AttributeCodec, decoder_for_duckdb_type


def timestamp(value: timestamp_pb2.Timestamp, present: bool = True) -> datetime | None:
    return value.ToDatetime(tzinfo=UTC) if present else None


def to_timestamp(value: datetime) -> timestamp_pb2.Timestamp:
    """A datetime as a Timestamp; a naive one is taken to be UTC (as attribute values are)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    stamp = timestamp_pb2.Timestamp()
    stamp.FromDatetime(value)
    return stamp


def duration(value: duration_pb2.Duration) -> timedelta:
    return value.ToTimedelta()


def enum_suffix(enum: Any, number: int, prefix: str) -> str:
    """`HEALTH_STATUS_HEALTHY` -> `HEALTHY` (the proto enum prefix is noise in Python)."""
    name = enum.Name(number) if number in enum.values() else str(number)
    return name.removeprefix(prefix)


def project(message: project_pb.Project, codec: AttributeCodec) -> models.Project:
    return models.Project(
        name=message.name,
        attributes=codec.decode(dict(message.attributes.items())),
        create_time=timestamp(message.create_time, message.HasField("create_time")),
        update_time=timestamp(message.update_time, message.HasField("update_time")),
        etag=message.etag,
        schema_version=message.schema_version,
    )


def change(message: project_pb.ProjectChange, codec: AttributeCodec) -> models.ProjectChange:
    return models.ProjectChange(
        change_type=enum_suffix(project_pb.ProjectChange.ChangeType, message.change_type, "CHANGE_TYPE_").lower(),
        project=project(message.project, codec),
        commit_time=timestamp(message.commit_time, message.HasField("commit_time")),
        position=message.position,
    )


def import_result(message: project_pb.ImportProjectsResponse) -> models.ImportResult:
    return models.ImportResult(
        received_count=message.received_count,
        imported_count=message.imported_count,
        failed_count=message.failed_count,
        errors=[models.RowError(e.row_number, [FieldViolation(v.field, v.description, v.reason)
                                                for v in e.field_violations])
                for e in message.errors],
        errors_truncated=message.errors_truncated,
    )


def summary(message: project_pb.SummarizeProjectsResponse) -> models.Summary:
    """Each result column reports its DuckDB type, which says how to decode its values."""
    columns = [models.SummaryColumn(c.name, c.type) for c in message.columns]
    codec = AttributeCodec({c.name: decoder_for_duckdb_type(c.type) for c in columns})
    rows = []
    for row in message.rows:
        values = {c.name: json_format.MessageToDict(v) for c, v in zip(columns, row.values, strict=True)}
        rows.append(codec.decode(values))
    return models.Summary(columns, rows)


def column(message: admin_pb.Column) -> models.Column:
    return models.Column(
        name=message.name, type=message.type, required=message.required, default_value=message.default_value,
        description=message.description, system_managed=message.system_managed,
        allowed_values=list(message.allowed_values), minimum=message.minimum, maximum=message.maximum,
        pattern=message.pattern, max_length=message.max_length)


def step(message: admin_pb.MigrationStep) -> models.MigrationStep:
    return models.MigrationStep(
        action=enum_suffix(admin_pb.StepAction, message.action, "STEP_ACTION_"),
        column=message.column, from_type=message.from_type, to_type=message.to_type,
        safety=enum_suffix(admin_pb.StepSafety, message.safety, "STEP_SAFETY_"), reason=message.reason)


def table(message: admin_pb.Table) -> models.Table:
    return models.Table(
        name=message.name, schema=message.schema, columns=[column(c) for c in message.columns],
        row_count=message.row_count, schema_version=message.schema_version, in_sync=message.in_sync,
        pending_steps=[step(s) for s in message.pending_steps], protected=message.protected)


def table_update(message: admin_pb.UpdateTableResponse) -> models.TableUpdate:
    return models.TableUpdate(steps=[step(s) for s in message.steps], applied=message.applied,
                              table=table(message.table) if message.HasField("table") else None)


def schema(message: admin_pb.Schema) -> models.Schema:
    return models.Schema(
        name=message.name, table=message.table, description=message.description,
        columns=[column(c) for c in message.columns], version=message.version, etag=message.etag,
        source=enum_suffix(admin_pb.SchemaSource, message.source, "SCHEMA_SOURCE_"),
        fetch_time=timestamp(message.fetch_time, message.HasField("fetch_time")), age=duration(message.age),
        format=message.format, last_error=message.last_error)


def schema_refresh(message: admin_pb.SchemaRefreshResult) -> models.SchemaRefresh:
    return models.SchemaRefresh(
        schema=message.schema, outcome=enum_suffix(admin_pb.RefreshOutcome, message.outcome, "REFRESH_OUTCOME_"),
        previous_version=message.previous_version, version=message.version, message=message.message,
        applied_steps=[step(s) for s in message.applied_steps],
        pending_steps=[step(s) for s in message.pending_steps])


def health(message: monitoring_pb.Health) -> models.Health:
    return models.Health(
        status=enum_suffix(monitoring_pb.HealthStatus, message.status, "HEALTH_STATUS_"),
        checks=[models.HealthCheck(
            name=c.name, status=enum_suffix(monitoring_pb.HealthStatus, c.status, "HEALTH_STATUS_"),
            message=c.message, observed=json_format.MessageToDict(c.observed), duration=duration(c.duration))
            for c in message.checks],
        version=message.version, uptime=duration(message.uptime),
        start_time=timestamp(message.start_time, message.HasField("start_time")))


def _group(message: Any) -> dict[str, Any]:
    result = {}
    for descriptor in message.DESCRIPTOR.fields:
        value = getattr(message, descriptor.name)
        if isinstance(value, duration_pb2.Duration):
            value = value.ToTimedelta().total_seconds()
        elif descriptor.is_repeated:
            value = [json_format.MessageToDict(v, preserving_proto_field_name=True) for v in value]
        result[descriptor.name] = value
    return result


def system_metrics(message: monitoring_pb.SystemMetrics) -> models.SystemMetrics:
    return models.SystemMetrics(
        sample_time=timestamp(message.sample_time, message.HasField("sample_time")),
        cpu=_group(message.cpu), memory=_group(message.memory), disk=_group(message.disk),
        process=_group(message.process), database=_group(message.database), rpc=_group(message.rpc))
