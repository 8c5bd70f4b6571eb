"""Projects: the records, the ports storage implements, and the use cases.

`ProjectManager` is what the gRPC servicer calls. It validates attributes
against the schema in force, fills the server-managed columns, and hands
complete rows to a `ProjectStore` (storage/project_store.py), which commits
them through the group-commit writer. Nothing here knows gRPC or SQL.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from .errors import Aborted, AlreadyExists, FieldViolation, InvalidArgument, NotFound
from .names import parse_uuid, project_name
from .paging import PageCursor, decode_page_token, encode_page_token, query_fingerprint
from .schema import ColumnRole, TableSchema
from .validation import AttributeValidator

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 1000
# Updates without an etag re-read and retry this often when they lose a race.
UPDATE_ATTEMPTS = 5


@dataclass(frozen=True)
class ActiveSchema:
    """The schema version in force for one schema id, with its compiled validator."""

    schema: TableSchema
    validator: AttributeValidator
    source: str = "mock"

    @classmethod
    def compile(cls, schema: TableSchema, source: str = "mock") -> ActiveSchema:
        return cls(schema=schema, validator=AttributeValidator(schema), source=source)


class SchemaProvider(Protocol):
    def active(self, schema_id: str, *, timeout: float | None = None) -> ActiveSchema:
        """The schema in force; raises Unavailable when none was ever obtained."""
        ...


@dataclass(frozen=True)
class ProjectRecord:
    """A stored project: every ontology column (typed) plus bookkeeping."""

    project_id: uuid.UUID
    attributes: dict[str, Any]
    create_time: datetime
    update_time: datetime
    etag: str
    schema_version: str

    @property
    def name(self) -> str:
        return project_name(self.project_id)


@dataclass(frozen=True)
class StoredPage:
    """What storage returns: the rows, where the next page starts (or None), the total."""

    records: list[ProjectRecord]
    next_position: tuple[Any, ...] | None
    total_size: int


@dataclass(frozen=True)
class ProjectPage:
    records: list[ProjectRecord]
    next_page_token: str
    total_size: int


class ProjectStore(Protocol):
    """Persistence for projects; implemented over DuckDB in storage/."""

    def insert(self, schema: TableSchema, records: Sequence[ProjectRecord], *, atomic: bool,
               timeout: float | None) -> list[Exception | None]:
        """Commits the records; returns per record None or the error that rejected it."""
        ...

    def get(self, schema: TableSchema, project_id: uuid.UUID) -> ProjectRecord | None: ...

    def list_page(self, schema: TableSchema, page_size: int,
                  after: tuple[Any, ...] | None) -> StoredPage: ...

    def replace(self, schema: TableSchema, record: ProjectRecord, expected_etag: str, *,
                timeout: float | None) -> bool:
        """Overwrites the record if its stored etag is `expected_etag`; False otherwise."""
        ...

    def delete(self, schema: TableSchema, project_id: uuid.UUID, expected_etag: str | None, *,
               timeout: float | None) -> bool:
        """Deletes the row (if its etag matches, when given); False when nothing matched."""
        ...


def utc_now() -> datetime:
    """Naive UTC, microsecond precision: what TIMESTAMP columns store."""
    return datetime.now(UTC).replace(tzinfo=None)


def new_etag() -> str:
    return secrets.token_hex(8)


@dataclass
class ProjectManager:
    """The project use cases, independent of transport and storage."""

    schemas: SchemaProvider
    store: ProjectStore
    schema_id: str = "project_schema"

    # -- create ---------------------------------------------------------------
    def create(self, attributes: Mapping[str, Any], project_id: str = "", *,
               timeout: float | None = None) -> ProjectRecord:
        active = self.schemas.active(self.schema_id, timeout=timeout)
        record = self.build_new_record(active, attributes, project_id)
        outcome = self.store.insert(active.schema, [record], atomic=True, timeout=timeout)[0]
        if outcome is not None:
            raise outcome
        return record

    def build_new_record(self, active: ActiveSchema, attributes: Mapping[str, Any], project_id: str = "",
                         *, prefix: str = "attributes.", id_field: str = "project_id") -> ProjectRecord:
        """Validates and completes one new row (used by create, batch and import)."""
        pid = self._parse_new_id(project_id, id_field) if project_id else uuid.uuid4()
        row = active.validator.validate_create(attributes, prefix=prefix)
        now = utc_now()
        _fill_system_columns(active.schema, row, pid, create_time=now, update_time=now)
        return ProjectRecord(pid, row, now, now, new_etag(), active.schema.version)

    def _parse_new_id(self, text: str, field_name: str) -> uuid.UUID:
        parsed = parse_uuid(text)
        if parsed is None:
            raise InvalidArgument(
                "project_id must be a UUID",
                violations=[FieldViolation(field_name, "must be a UUID such as "
                                           "123e4567-e89b-12d3-a456-426614174000", "INVALID_FORMAT")],
                reason="INVALID_PROJECT_ID")
        return parsed

    # -- read -----------------------------------------------------------------
    def get(self, project_id: uuid.UUID, *, timeout: float | None = None) -> ProjectRecord:
        active = self.schemas.active(self.schema_id, timeout=timeout)
        record = self.store.get(active.schema, project_id)
        if record is None:
            raise _not_found(project_id)
        return record

    def list(self, page_size: int, page_token: str = "", *, filter_text: str = "", order_by: str = "",
             timeout: float | None = None) -> ProjectPage:
        if filter_text:
            raise _not_yet("filter", "filtering is not supported yet; send an empty filter")
        if order_by:
            raise _not_yet("order_by", "ordering other than the default is not supported yet")
        size = clamp_page_size(page_size)
        query = query_fingerprint("projects", filter_text, order_by)
        cursor = decode_page_token(page_token, query)
        active = self.schemas.active(self.schema_id, timeout=timeout)
        page = self.store.list_page(active.schema, size, cursor.position if cursor else None)
        token = ""
        if page.next_position is not None:
            token = encode_page_token(PageCursor(query=query, position=page.next_position))
        return ProjectPage(page.records, token, page.total_size)

    # -- update ---------------------------------------------------------------
    def update(self, project_id: uuid.UUID, patch: Mapping[str, Any], *, replace_all: bool = False,
               etag: str = "", timeout: float | None = None) -> ProjectRecord:
        """Merges `patch` into the stored attributes (or replaces them), re-validates, commits.

        With an etag the write is conditional (a mismatch is ABORTED); without
        one, a lost race is retried on a fresh read so no update is lost.
        """
        for _ in range(UPDATE_ATTEMPTS):
            active = self.schemas.active(self.schema_id, timeout=timeout)
            current = self.store.get(active.schema, project_id)
            if current is None:
                raise _not_found(project_id)
            if etag and etag != current.etag:
                raise _stale_etag(project_id)
            record = self._merged(active, current, patch, replace_all)
            if self.store.replace(active.schema, record, current.etag, timeout=timeout):
                return record
            if etag:
                raise _stale_etag(project_id)
        raise Aborted("the project changed concurrently too often; retry",
                      reason="CONCURRENT_MODIFICATION", metadata={"project": project_name(project_id)})

    def _merged(self, active: ActiveSchema, current: ProjectRecord, patch: Mapping[str, Any],
                replace_all: bool) -> ProjectRecord:
        validator = active.validator
        # Stored values are typed; the validator accepts them as they are, so the
        # merged row is checked as a whole and every violation reported at once.
        base = {} if replace_all else {k: v for k, v in current.attributes.items() if validator.is_known(k)}
        merged = validator.validate_create({**base, **patch})
        now = utc_now()
        _fill_system_columns(active.schema, merged, current.project_id,
                             create_time=current.create_time, update_time=now,
                             previous=current.attributes)
        return ProjectRecord(current.project_id, merged, current.create_time, now, new_etag(),
                             active.schema.version)

    # -- delete ---------------------------------------------------------------
    def delete(self, project_id: uuid.UUID, etag: str = "", *, timeout: float | None = None) -> None:
        active = self.schemas.active(self.schema_id, timeout=timeout)
        if self.store.delete(active.schema, project_id, etag or None, timeout=timeout):
            return
        if etag and self.store.get(active.schema, project_id) is not None:
            raise _stale_etag(project_id)
        raise _not_found(project_id)


def clamp_page_size(page_size: int) -> int:
    if page_size < 0:
        raise InvalidArgument(
            "page_size must not be negative",
            violations=[FieldViolation("page_size", "must be 0 (default) or positive", "INVALID_PAGE_SIZE")],
            reason="INVALID_PAGE_SIZE")
    if page_size == 0:
        return DEFAULT_PAGE_SIZE
    return min(page_size, MAX_PAGE_SIZE)


def _fill_system_columns(schema: TableSchema, row: dict[str, Any], project_id: uuid.UUID, *,
                         create_time: datetime, update_time: datetime,
                         previous: Mapping[str, Any] | None = None) -> None:
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


def _not_yet(field_name: str, description: str) -> InvalidArgument:
    return InvalidArgument(description, violations=[FieldViolation(field_name, description, "NOT_SUPPORTED")],
                           reason="NOT_SUPPORTED")


def _not_found(project_id: uuid.UUID) -> NotFound:
    name = project_name(project_id)
    return NotFound(f"project {name} does not exist", resource_type="duckdbspawn.io/Project",
                    resource_name=name, reason="PROJECT_NOT_FOUND")


def _stale_etag(project_id: uuid.UUID) -> Aborted:
    return Aborted("the etag does not match the project's current etag; re-read and retry",
                   reason="ETAG_MISMATCH", metadata={"project": project_name(project_id)})


__all__ = [
    "ActiveSchema", "AlreadyExists", "ProjectManager", "ProjectPage", "ProjectRecord", "ProjectStore",
    "SchemaProvider", "StoredPage", "clamp_page_size",
]
