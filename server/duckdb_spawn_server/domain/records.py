"""Projects as the use cases hold them: stored records, pages, and how a row gets its server-managed values."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from .errors import FieldViolation, InvalidArgument
from .names import parse_uuid, project_name
from .schema import ColumnRole, TableSchema
from .schema_registry import SchemaSource
from .validation import AttributeValidator
from .values import format_timestamp, to_json_value


@dataclass(frozen=True)
class ActiveSchema:
    """The schema version in force for one schema id, with its compiled validator."""

    schema: TableSchema
    validator: AttributeValidator
    source: SchemaSource = SchemaSource.MOCK

    @classmethod
    def compile(cls, schema: TableSchema, source: SchemaSource = SchemaSource.MOCK) -> ActiveSchema:
        return cls(schema=schema, validator=AttributeValidator(schema), source=source)


@dataclass(frozen=True)
class ProjectRecord:
    """A stored project: every ontology column (typed) plus bookkeeping."""

    project_id: uuid.UUID
    attributes: dict[str, Any]
    create_time: datetime
    update_time: datetime
    etag: str
    schema_version: str
    # The content hash of the schema the attributes are typed and named by (what a client is shown
    # for this etag can change with a migration); "" when not known (a replayed outcome).
    shape: str = field(default="", compare=False)

    @property
    def name(self) -> str:
        return project_name(self.project_id)

    def to_json(self) -> dict[str, Any]:
        """The record as the client saw it (attributes in their wire form), for the request log."""
        return {"id": str(self.project_id),
                "attributes": {k: to_json_value(v) for k, v in self.attributes.items()},
                "create_time": format_timestamp(self.create_time), "update_time": format_timestamp(self.update_time),
                "etag": self.etag, "schema_version": self.schema_version}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ProjectRecord:
        """A logged record; its attributes stay in wire form, which is all a replayed response needs."""
        return cls(uuid.UUID(data["id"]), dict(data["attributes"]), _parse_time(data["create_time"]),
                   _parse_time(data["update_time"]), data["etag"], data["schema_version"])


def _parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.removesuffix("Z"))


@dataclass(frozen=True)
class StoredPage:
    """What storage returns: the rows, whether more follow, the number of matches."""

    records: list[ProjectRecord]
    has_more: bool
    total_size: int
    position: int | None = None  # the change-log position of the snapshot read (None: the log is off)


@dataclass(frozen=True)
class ProjectPage:
    records: list[ProjectRecord]
    next_page_token: str
    total_size: int
    read_position: str = ""  # token of the change-log position every page of the listing reads


@dataclass
class ReadPosition:
    """Filled in by storage, before the first chunk, with the position of the snapshot a stream reads."""

    value: int | None = None


def utc_now() -> datetime:
    """Naive UTC, microsecond precision: what TIMESTAMP columns store."""
    return datetime.now(UTC).replace(tzinfo=None)


def new_etag() -> str:
    return secrets.token_hex(8)


def new_record(active: ActiveSchema, attributes: Mapping[str, Any], project_id: str, now: datetime, *,
               prefix: str = "attributes.", id_field: str = "project_id") -> ProjectRecord:
    """Validates and completes one new row (a create, each request of a batch)."""
    pid = _parse_new_id(project_id, id_field) if project_id else uuid.uuid4()
    row = active.validator.validate_create(attributes, prefix=prefix)
    fill_system_columns(active.schema, row, pid, create_time=now, update_time=now)
    return ProjectRecord(pid, row, now, now, new_etag(), active.schema.version, active.schema.content_hash())


def _parse_new_id(text: str, field_name: str) -> uuid.UUID:
    parsed = parse_uuid(text)
    if parsed is None:
        raise InvalidArgument(
            "project_id must be a UUID",
            violations=[FieldViolation(field_name, "must be a UUID such as "
                                       "123e4567-e89b-12d3-a456-426614174000", "INVALID_FORMAT")],
            reason="INVALID_PROJECT_ID")
    return parsed


def fill_system_columns(schema: TableSchema, row: dict[str, Any], project_id: uuid.UUID, *,
                        create_time: datetime, update_time: datetime,
                        previous: Mapping[str, Any] | None = None) -> None:
    """The ontology's server-managed columns (id, create and update time) of a new or updated row."""
    for column in schema.columns:
        if column.role is ColumnRole.ID:
            row[column.name] = project_id
        elif column.role is ColumnRole.CREATE_TIME:
            if previous is not None and previous.get(column.name) is not None:
                row[column.name] = previous[column.name]
            else:
                row[column.name] = _as_column_time(column.type.name, create_time)
        elif column.role is ColumnRole.UPDATE_TIME:
            row[column.name] = _as_column_time(column.type.name, update_time)


def _as_column_time(type_name: str, moment: datetime) -> Any:
    return moment.date() if type_name == "DATE" else moment
