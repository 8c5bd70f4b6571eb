"""The schema cache as the metrics collector sees it: one snapshot per hosted schema.

`snapshots_of` flattens the ontology cache's status (domain/schema_registry.py)
into what `observability/collectors.py` exports; the health check reads the
cache's status directly.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from ..domain.schema_registry import SchemaCacheStatus as CacheStatus
from ..domain.schema_registry import SchemaSource

# Where the schema in force came from.
SOURCE_ONTOLOGY = "ontology_server"  # fetched (or revalidated) from the ontology server
SOURCE_DISK = "disk"  # the last-known-good copy on disk, from an earlier run
SOURCE_MOCK = "mock"  # the built-in mock schemas
SOURCES = (SOURCE_ONTOLOGY, SOURCE_DISK, SOURCE_MOCK)


@dataclass(frozen=True)
class SchemaCacheSnapshot:
    schema_id: str
    source: str  # one of SOURCES
    version: str
    age_seconds: float  # since the schema in force was fetched or last revalidated
    stale: bool = False  # served past its freshness because revalidation fails
    last_error: str = ""  # why the last refresh failed, safe to show
    refreshes: int = 0  # refresh attempts since start
    refresh_failures: int = 0  # of which failed
    stale_served: int = 0  # times a stale schema was served


class SchemaCacheStatus(Protocol):
    def cache_status(self) -> Sequence[SchemaCacheSnapshot]:
        """One snapshot per schema that has loaded; empty while none has."""
        ...


class NoSchemas:
    """The status before start-up has loaded any schema."""

    def cache_status(self) -> Sequence[SchemaCacheSnapshot]:
        return ()


_SOURCE_NAMES = {SchemaSource.SERVER: SOURCE_ONTOLOGY, SchemaSource.CACHE: SOURCE_ONTOLOGY,
                 SchemaSource.DISK: SOURCE_DISK, SchemaSource.MOCK: SOURCE_MOCK}


def snapshots_of(status: CacheStatus) -> list[SchemaCacheSnapshot]:
    """The cache's status as one snapshot per schema in force."""
    return [SchemaCacheSnapshot(
        schema_id=info.schema_id, source=_SOURCE_NAMES[info.source], version=info.version,
        age_seconds=info.age_seconds or 0.0,
        stale=(info.source in (SchemaSource.SERVER, SchemaSource.CACHE) and info.age_seconds is not None
               and info.age_seconds > status.stale_after_seconds),
        last_error=info.last_error) for info in status.schemas]
