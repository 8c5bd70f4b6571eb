"""The internal schema model that every ontology format normalises into.

A `TableSchema` is immutable and fully validated on construction: names match
`IDENTIFIER_PATTERN`, types come from the allow-list (domain/types.py),
constraints are consistent with their column's type. Storage builds DDL from
it and validation compiles checks from it; neither sees raw ontology JSON.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from decimal import Decimal
from enum import Enum
from typing import Any

from .types import ColumnType, TypeKind

# Lower-case ASCII letter, then letters, digits or underscores; at most 63
# characters (DuckDB's limit is higher; PostgreSQL's, for the DuckLake future,
# is 63). A leading underscore is reserved for the service's own columns, so
# ontology names can never collide with them.
IDENTIFIER_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
MAX_COLUMNS = 256
MAX_PATTERN_LENGTH = 512
MAX_ENUM_VALUES = 1024


class ColumnRole(Enum):
    """Who writes a column: clients (DATA) or the server (the others)."""

    DATA = "data"
    ID = "id"
    CREATE_TIME = "create_time"
    UPDATE_TIME = "update_time"


# Names that mark a server-managed column when the ontology does not say so
# explicitly (the seed format has no such marker).
WELL_KNOWN_ROLES: dict[str, ColumnRole] = {
    "id": ColumnRole.ID,
    "project_id": ColumnRole.ID,
    "creation_date": ColumnRole.CREATE_TIME,
    "created_at": ColumnRole.CREATE_TIME,
    "create_time": ColumnRole.CREATE_TIME,
    "last_updated": ColumnRole.UPDATE_TIME,
    "updated_at": ColumnRole.UPDATE_TIME,
    "update_time": ColumnRole.UPDATE_TIME,
}


class InvalidSchema(ValueError):
    """A schema document that fails any check; it is rejected as a whole."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


def is_identifier(name: object) -> bool:
    return isinstance(name, str) and IDENTIFIER_PATTERN.fullmatch(name) is not None


@dataclass(frozen=True)
class Column:
    """One ontology-defined column and its rules."""

    name: str
    type: ColumnType
    required: bool = False
    description: str = ""
    role: ColumnRole = ColumnRole.DATA
    enum: tuple[Any, ...] | None = None  # typed values
    minimum: Decimal | None = None
    maximum: Decimal | None = None
    pattern: str | None = None
    max_length: int | None = None
    default: Any = None  # typed value, or None for no default

    @property
    def system_managed(self) -> bool:
        return self.role is not ColumnRole.DATA

    @property
    def has_default(self) -> bool:
        return self.default is not None

    def fingerprint(self) -> dict[str, Any]:
        """A JSON-able description used for versions and structural comparison."""
        return {
            "name": self.name,
            "type": self.type.sql,
            "required": self.required,
            "role": self.role.value,
            "enum": [str(v) for v in self.enum] if self.enum is not None else None,
            "minimum": str(self.minimum) if self.minimum is not None else None,
            "maximum": str(self.maximum) if self.maximum is not None else None,
            "pattern": self.pattern,
            "max_length": self.max_length,
            "default": str(self.default) if self.default is not None else None,
        }


@dataclass(frozen=True)
class TableSchema:
    """A validated schema: the table it defines and its columns, in order."""

    schema_id: str
    table_name: str
    columns: tuple[Column, ...]
    description: str = ""
    declared_version: str | None = None  # as provided by the ontology server
    source_format: str = "seed"
    _by_name: dict[str, Column] = field(init=False, repr=False, compare=False)
    _hash: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        problems = _check_schema(self)
        if problems:
            raise InvalidSchema(problems)
        object.__setattr__(self, "_by_name", {c.name: c for c in self.columns})
        canonical = json.dumps(
            {"table": self.table_name, "columns": [c.fingerprint() for c in self.columns]},
            sort_keys=True, separators=(",", ":"),
        )
        object.__setattr__(self, "_hash", hashlib.sha256(canonical.encode()).hexdigest())

    def column(self, name: str) -> Column | None:
        return self._by_name.get(name)

    @property
    def id_column(self) -> Column:
        return next(c for c in self.columns if c.role is ColumnRole.ID)

    @property
    def data_columns(self) -> tuple[Column, ...]:
        return tuple(c for c in self.columns if c.role is ColumnRole.DATA)

    @property
    def version(self) -> str:
        """The server-declared version, else a hash of the normalised content."""
        if self.declared_version:
            return self.declared_version
        return "sha256:" + self.content_hash()[:16]

    def content_hash(self) -> str:
        """SHA-256 of the normalised content (computed once: schemas are immutable)."""
        return self._hash


def _check_schema(schema: TableSchema) -> list[str]:
    problems: list[str] = []
    if not is_identifier(schema.table_name):
        problems.append(f"table name {schema.table_name[:80]!r} does not match {IDENTIFIER_PATTERN.pattern}")
    if not schema.columns:
        problems.append("a schema needs at least one column")
    if len(schema.columns) > MAX_COLUMNS:
        problems.append(f"a schema has at most {MAX_COLUMNS} columns")
    seen: set[str] = set()
    for column in schema.columns:
        if not is_identifier(column.name):
            problems.append(f"column name {column.name[:80]!r} does not match {IDENTIFIER_PATTERN.pattern}")
        if column.name in seen:
            problems.append(f"column {column.name!r} appears twice")
        seen.add(column.name)
    ids = [c for c in schema.columns if c.role is ColumnRole.ID]
    if len(ids) != 1:
        problems.append("a schema needs exactly one identifier column (UUID)")
    elif ids[0].type.kind is not TypeKind.UUID:
        problems.append(f"identifier column {ids[0].name!r} must have type UUID")
    for role in (ColumnRole.CREATE_TIME, ColumnRole.UPDATE_TIME):
        marked = [c for c in schema.columns if c.role is role]
        if len(marked) > 1:
            problems.append(f"at most one column may have role {role.value}")
        for c in marked:
            if c.type.kind not in (TypeKind.DATE, TypeKind.TIMESTAMP):
                problems.append(f"column {c.name!r} has role {role.value} but type {c.type.sql}")
    return problems
