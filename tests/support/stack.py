"""The storage stack without gRPC: a real DuckDB file, the writer, the pool, a ProjectManager.

For tests that need a schema the built-in mock does not have (every column
type, nullable everywhere) or a controllable clock.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from duckdb_spawn_server.domain.changes import ChangeFeed
from duckdb_spawn_server.domain.idempotency import Idempotency
from duckdb_spawn_server.domain.projects import ProjectManager
from duckdb_spawn_server.domain.records import utc_now
from duckdb_spawn_server.ontology.seed_format import parse_seed_schema
from duckdb_spawn_server.ontology.static_provider import StaticSchemaProvider
from duckdb_spawn_server.storage.database import Database, DatabaseSettings
from duckdb_spawn_server.storage.duckdb_storage import DuckDBStorage
from duckdb_spawn_server.storage.record_cache import RecordCache


class Stack:
    def __init__(self, path: Path, schema_id: str, document: dict[str, Any],
                 clock: Callable[[], datetime] = utc_now, retention: timedelta = timedelta(hours=24),
                 read_cache_entries: int = 0) -> None:
        self.database = Database(DatabaseSettings(str(path), threads=2))
        self.storage = DuckDBStorage.build(self.database, pool_size=4, cache=RecordCache(read_cache_entries))
        self.writer, self.pool = self.storage.writer, self.storage.pool
        self.tables = self.storage.tables
        self.store = self.storage.projects
        self.schema = parse_seed_schema(schema_id, document)
        self.tables.create(self.schema)
        self.manager = ProjectManager(StaticSchemaProvider({schema_id: self.schema}), self.store, schema_id=schema_id,
                                      idempotency=Idempotency(self.store, retention, clock), clock=clock,
                                      changes=ChangeFeed(self.storage.changes) if self.storage.changes else None)

    def close(self) -> None:
        self.storage.close()


@contextmanager
def storage_stack(path: Path, schema_id: str, document: dict[str, Any], **options: Any) -> Iterator[Stack]:
    stack = Stack(path, schema_id, document, **options)
    try:
        yield stack
    finally:
        stack.close()
