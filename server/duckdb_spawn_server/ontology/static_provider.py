"""A schema provider that serves fixed schemas (the built-in mock).

Used by tests that need a fixed schema without the ontology layer
(tests/support/stack.py); the service always uses the schema cache
(ontology/cache.py), which implements the same `SchemaProvider` port.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from ..domain.errors import NotFound
from ..domain.records import ActiveSchema
from ..domain.schema import TableSchema
from ..domain.schema_registry import SchemaSource
from ..observability.schema_status import SchemaCacheSnapshot


class StaticSchemaProvider:
    def __init__(self, schemas: dict[str, TableSchema], source: SchemaSource = SchemaSource.MOCK) -> None:
        self._active = {sid: ActiveSchema.compile(schema, source) for sid, schema in schemas.items()}
        self._source = source
        self._loaded_at = time.monotonic()

    def schema_ids(self) -> tuple[str, ...]:
        return tuple(self._active)

    def active(self, schema_id: str, *, timeout: float | None = None) -> ActiveSchema:
        try:
            return self._active[schema_id]
        except KeyError:
            raise NotFound(f"schema {schema_id} is not hosted", resource_type="duckdbspawn.io/Schema",
                           resource_name=f"schemas/{schema_id}") from None

    def ready(self) -> bool:
        return bool(self._active)

    def cache_status(self) -> Sequence[SchemaCacheSnapshot]:
        """Fixed schemas never go stale; their age is the time since start-up loaded them."""
        age = time.monotonic() - self._loaded_at
        return [SchemaCacheSnapshot(sid, self._source.value, active.schema.version, age)
                for sid, active in self._active.items()]
