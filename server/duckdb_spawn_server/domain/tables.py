"""Hosted tables as the domain sees them: what exists, and whether it matches its schema."""

from __future__ import annotations

from dataclasses import dataclass, field

from .migration import MigrationStep


@dataclass(frozen=True)
class TableColumn:
    name: str
    type: str
    required: bool
    default: str | None = None


@dataclass(frozen=True)
class TableInfo:
    """A hosted table that exists in the database."""

    name: str
    schema_id: str
    columns: list[TableColumn]
    row_count: int
    schema_version: str  # the version the table was last fully reconciled with
    in_sync: bool  # its structure matches the schema in force
    protected: bool = False
    pending_steps: list[MigrationStep] = field(default_factory=list)


@dataclass(frozen=True)
class TableCreation:
    name: str
    created: bool


@dataclass(frozen=True)
class TableUpdate:
    """What UpdateTable planned, and whether it applied it."""

    steps: list[MigrationStep]
    applied: bool
    table: TableInfo
