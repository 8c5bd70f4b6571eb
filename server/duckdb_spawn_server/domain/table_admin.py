"""Table administration use cases: create the hosted tables, describe them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Protocol

from .errors import NotFound
from .names import table_name
from .projects import SchemaProvider
from .schema import TableSchema
from .schema_registry import SwapResult
from .tables import TableCreation, TableInfo


class TableStore(Protocol):
    def create(self, schema: TableSchema, timeout: float | None = None) -> TableCreation: ...

    def describe(self, schema: TableSchema) -> TableInfo | None: ...


@dataclass
class TableAdmin:
    schemas: SchemaProvider
    store: TableStore
    schema_ids: Sequence[str]
    protected_tables: frozenset[str] = frozenset({"projects"})

    def hosted(self, timeout: float | None = None) -> list[TableSchema]:
        return [self.schemas.active(sid, timeout=timeout).schema for sid in self.schema_ids]

    def prepare(self, schema_id: str, previous: TableSchema | None, new: TableSchema) -> SwapResult:
        """The schema cache's swap hook: the table must exist before its schema is in force."""
        creation = self.store.create(new)
        return SwapResult(message=f"created table {new.table_name}" if creation.created else "")

    def create_all(self, timeout: float | None = None) -> list[TableCreation]:
        return [self.store.create(schema, timeout) for schema in self.hosted(timeout)]

    def list(self, timeout: float | None = None) -> list[TableInfo]:
        infos = []
        for schema in self.hosted(timeout):
            info = self.store.describe(schema)
            if info is not None:
                infos.append(self._mark(info))
        return infos

    def get(self, table: str, timeout: float | None = None) -> TableInfo:
        for schema in self.hosted(timeout):
            if schema.table_name == table:
                info = self.store.describe(schema)
                if info is not None:
                    return self._mark(info)
        name = table_name(table)
        raise NotFound(f"table {name} does not exist", resource_type="duckdbspawn.io/Table", resource_name=name,
                       reason="TABLE_NOT_FOUND")

    def _mark(self, info: TableInfo) -> TableInfo:
        return replace(info, protected=True) if info.name in self.protected_tables else info
