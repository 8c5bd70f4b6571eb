"""The fields a query may name: ontology columns plus the bookkeeping times.

Filters, orderings, exports and summaries all refer to fields by the names
clients see: an ontology column (`total_amount`, also accepted as
`attributes.total_amount`, the path inside `Project`), or `create_time` /
`update_time`, the server's own timestamps. `FieldCatalog` resolves those
names against the schema in force and says what type each field has; storage
maps a `FieldRef` to its physical column.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .schema import Column, TableSchema
from .types import ColumnType, TypeKind

CREATE_TIME = "create_time"
UPDATE_TIME = "update_time"
BOOKKEEPING_TIMES = (CREATE_TIME, UPDATE_TIME)
ATTRIBUTES_PREFIX = "attributes."
_TIMESTAMP = ColumnType(name="TIMESTAMP", kind=TypeKind.TIMESTAMP)


@dataclass(frozen=True)
class FieldRef:
    """A resolved field: its canonical name, its type, and where it lives."""

    name: str
    type: ColumnType
    column: Column | None = None  # the ontology column, or None for a bookkeeping time

    @property
    def bookkeeping(self) -> str | None:
        """`create_time` / `update_time` when this is a bookkeeping time, else None."""
        return self.name if self.column is None else None

    @property
    def kind(self) -> TypeKind:
        return self.type.kind

    @property
    def enum(self) -> tuple[Any, ...] | None:
        return self.column.enum if self.column is not None else None


class FieldCatalog:
    """Name -> FieldRef for one schema version."""

    def __init__(self, schema: TableSchema) -> None:
        self.schema = schema
        self._fields: dict[str, FieldRef] = {c.name: FieldRef(c.name, c.type, c) for c in schema.columns}
        for name in BOOKKEEPING_TIMES:
            # An ontology column with the same name wins: it is the same notion.
            self._fields.setdefault(name, FieldRef(name, _TIMESTAMP))

    def resolve(self, path: str) -> FieldRef | None:
        """The field named `path` (`field` or `attributes.field`), or None."""
        name = path.removeprefix(ATTRIBUTES_PREFIX) if path.startswith(ATTRIBUTES_PREFIX) else path
        return self._fields.get(name)

    def names(self) -> list[str]:
        return list(self._fields)

    def listing(self, limit: int = 24) -> str:
        """The field names for an error message, shortened so the error stays small."""
        names = self.names()
        return ", ".join(names[:limit]) + (f", … ({len(names) - limit} more)" if len(names) > limit else "")

    @property
    def id_field(self) -> FieldRef:
        return self._fields[self.schema.id_column.name]


def printable(text: str, limit: int = 64) -> str:
    """Client-supplied names echoed in errors: short, no control characters."""
    cleaned = "".join(ch if ch.isprintable() else "?" for ch in text[:limit])
    return cleaned + ("…" if len(text) > limit else "")
