"""Read queries over projects: a filter plus an ordering, compiled against the schema in force."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from enum import Enum

from .fields import FieldCatalog
from .filters import Filter, compile_filter
from .ordering import Ordering, parse_order_by
from .schema import TableSchema


@dataclass(frozen=True)
class ProjectQuery:
    filter: Filter | None
    ordering: Ordering


class ExportFormat(Enum):
    ARROW_IPC = "arrow_ipc"
    PARQUET = "parquet"
    CSV = "csv"
    JSONL = "jsonl"


class Catalogs:
    """One FieldCatalog per schema version, built once; recent queries compiled once."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_hash: dict[str, FieldCatalog] = {}
        self._queries: dict[tuple[str, str, str], ProjectQuery] = {}

    def for_schema(self, schema: TableSchema) -> FieldCatalog:
        key = schema.content_hash()
        catalog = self._by_hash.get(key)
        if catalog is None:
            catalog = FieldCatalog(schema)
            with self._lock:
                if len(self._by_hash) > 64:  # schema versions come and go; keep the map small
                    self._by_hash.clear()
                self._by_hash[key] = catalog
        return catalog

    def query(self, schema: TableSchema, filter_text: str, order_by: str) -> ProjectQuery:
        """INVALID_ARGUMENT (naming `filter` or `order_by` and the position) when either is bad.

        Compiled queries are immutable and depend only on these three inputs, so the most
        recent few hundred are kept: a client paging through a list compiles its filter once.
        """
        key = (schema.content_hash(), filter_text, order_by)
        found = self._queries.get(key)
        if found is not None:
            return found
        catalog = self.for_schema(schema)
        query = ProjectQuery(compile_filter(filter_text, catalog), parse_order_by(order_by, catalog))
        with self._lock:
            if len(self._queries) >= 256:
                del self._queries[next(iter(self._queries))]
            self._queries[key] = query
        return query
