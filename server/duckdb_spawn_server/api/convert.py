"""Conversion between protobuf messages and domain objects, nothing else."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from duckdb_spawn.v1 import project_service_pb2 as pb
from google.protobuf import struct_pb2, timestamp_pb2

from ..domain.projects import ProjectRecord
from ..domain.values import to_json_value


def struct_to_dict(struct: struct_pb2.Struct) -> dict[str, Any]:
    """Struct -> {name: str | float | bool | None | nested message}.

    Nested lists and objects stay protobuf messages; validation rejects them
    as type mismatches, since no ontology type holds them.
    """
    return dict(struct.items())


def dict_to_struct(values: dict[str, Any]) -> struct_pb2.Struct:
    struct = struct_pb2.Struct()
    struct.update(values)
    return struct


def timestamp(moment: datetime) -> timestamp_pb2.Timestamp:
    stamp = timestamp_pb2.Timestamp()
    stamp.FromDatetime(moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment)
    return stamp


def project_to_proto(record: ProjectRecord) -> pb.Project:
    project = pb.Project(
        name=record.name,
        create_time=timestamp(record.create_time),
        update_time=timestamp(record.update_time),
        etag=record.etag,
        schema_version=record.schema_version,
    )
    project.attributes.update({name: to_json_value(value) for name, value in record.attributes.items()})
    return project
