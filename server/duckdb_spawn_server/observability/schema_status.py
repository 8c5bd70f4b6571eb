"""The schema cache as observability sees it: one snapshot per hosted schema.

Whatever serves schemas (the built-in mock today, the ontology cache of
ontology/ once it exists) reports through `SchemaCacheStatus`; the health
check (`observability/health_checks.py`) and the Prometheus collector
(`observability/collectors.py`) read nothing else. Counters are cumulative
since start; the collector exports them as counters.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

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
