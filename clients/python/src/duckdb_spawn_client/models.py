"""What the client returns: plain, typed Python objects (no protobuf messages)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any


@dataclass(frozen=True)
class Project:
    name: str  # projects/{uuid}
    attributes: dict[str, Any]  # decoded: Decimal, date, datetime, int, str, ...
    create_time: datetime | None
    update_time: datetime | None
    etag: str
    schema_version: str

    @property
    def id(self) -> uuid.UUID:
        return uuid.UUID(self.name.rsplit("/", 1)[-1])


@dataclass(frozen=True)
class ProjectPage:
    projects: list[Project]
    next_page_token: str
    total_size: int
    read_position: str = ""  # the change-log position of the listing's snapshot: watch from it


@dataclass(frozen=True)
class ProjectChange:
    """One committed change. For a delete, `project` has only its `name` and the `etag` it had."""

    change_type: str  # created, updated, deleted
    project: Project
    commit_time: datetime | None
    position: str  # opaque; list or watch from it to get the changes after this one


@dataclass(frozen=True)
class ChangePage:
    changes: list[ProjectChange]
    next_page_token: str  # empty when this page reached the latest change
    position: str  # how far this page got: list or watch from it for what follows


@dataclass(frozen=True)
class WatchProgress:
    """A watch's heartbeat: nothing changed, every change up to `position` has been delivered."""

    position: str


@dataclass(frozen=True)
class RowError:
    row_number: int
    field_violations: list[Any]  # errors.FieldViolation


@dataclass(frozen=True)
class ImportResult:
    received_count: int
    imported_count: int
    failed_count: int
    errors: list[RowError]
    errors_truncated: bool


@dataclass(frozen=True)
class ExportResult:
    path: str
    format: str
    row_count: int
    byte_count: int
    read_position: str = ""  # the change-log position of the exported snapshot


@dataclass(frozen=True)
class SummaryColumn:
    name: str
    type: str


@dataclass(frozen=True)
class Summary:
    columns: list[SummaryColumn]
    rows: list[dict[str, Any]]  # column name -> decoded value


@dataclass(frozen=True)
class TableInitialization:
    table: str
    created: bool


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    required: bool = False
    default_value: str = ""
    description: str = ""
    system_managed: bool = False
    allowed_values: list[str] = field(default_factory=list)
    minimum: str = ""
    maximum: str = ""
    pattern: str = ""
    max_length: int = 0


@dataclass(frozen=True)
class MigrationStep:
    action: str  # ADD_COLUMN, DROP_COLUMN, ...
    column: str
    from_type: str
    to_type: str
    safety: str  # SAFE, NEEDS_DEFAULT, DESTRUCTIVE
    reason: str


@dataclass(frozen=True)
class Table:
    name: str  # tables/{table}
    schema: str
    columns: list[Column]
    row_count: int
    schema_version: str
    in_sync: bool
    pending_steps: list[MigrationStep]
    protected: bool


@dataclass(frozen=True)
class TableUpdate:
    steps: list[MigrationStep]
    applied: bool
    table: Table | None


@dataclass(frozen=True)
class Schema:
    name: str  # schemas/{schema}
    table: str
    description: str
    columns: list[Column]
    version: str
    etag: str
    source: str  # SERVER, CACHE, DISK, MOCK
    fetch_time: datetime | None
    age: timedelta
    format: str
    last_error: str


@dataclass(frozen=True)
class SchemaRefresh:
    schema: str
    outcome: str  # UNCHANGED, UPDATED, FAILED
    previous_version: str
    version: str
    message: str
    applied_steps: list[MigrationStep]
    pending_steps: list[MigrationStep]


@dataclass(frozen=True)
class HealthCheck:
    name: str
    status: str  # HEALTHY, DEGRADED, UNHEALTHY
    message: str
    observed: dict[str, Any]
    duration: timedelta


@dataclass(frozen=True)
class Health:
    status: str
    checks: list[HealthCheck]
    version: str
    uptime: timedelta
    start_time: datetime | None


@dataclass(frozen=True)
class SystemMetrics:
    """A metrics sample; each group is a dict of the proto fields (snake_case), durations as seconds."""

    sample_time: datetime | None
    cpu: dict[str, Any]
    memory: dict[str, Any]
    disk: dict[str, Any]
    process: dict[str, Any]
    database: dict[str, Any]
    rpc: dict[str, Any]
