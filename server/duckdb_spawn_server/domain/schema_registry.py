"""What the service knows about its ontology schemas: where each came from and how fresh it is.

The schema cache (ontology/cache.py) implements `SchemaRegistry`; the
AdminService reads it through this port (GetSchema, RefreshSchemas) and the
health check reads `SchemaCacheStatus`. Nothing here knows HTTP or gRPC.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum

from .schema import TableSchema


class SchemaSource(Enum):
    """Where the schema in force came from (the proto's SchemaSource)."""

    SERVER = "server"  # fetched or revalidated within the TTL
    CACHE = "cache"  # fetched earlier; served from memory while a refresh is due or failing
    DISK = "disk"  # the last-known-good copy persisted beside the database
    MOCK = "mock"  # the built-in mock


class RefreshOutcome(Enum):
    UNCHANGED = "unchanged"  # 304, or identical content
    UPDATED = "updated"  # a new version validated and is now in force
    FAILED = "failed"  # fetch failed or the schema was rejected; the previous one stays


@dataclass(frozen=True)
class SchemaInfo:
    """One hosted schema as the cache holds it."""

    schema_id: str
    schema: TableSchema
    source: SchemaSource
    etag: str = ""
    fetched_at: datetime | None = None  # last successful fetch or revalidation (UTC)
    age_seconds: float | None = None
    last_error: str = ""

    @property
    def version(self) -> str:
        return self.schema.version

    @property
    def format(self) -> str:
        return self.schema.source_format


@dataclass(frozen=True)
class RefreshReport:
    """What refreshing one schema did; steps are migration steps (domain.migration.MigrationStep)."""

    schema_id: str
    outcome: RefreshOutcome
    previous_version: str
    version: str
    message: str = ""
    applied_steps: tuple[object, ...] = ()
    pending_steps: tuple[object, ...] = ()


@dataclass(frozen=True)
class SwapResult:
    """What the swap hook did to the table before a new schema came into force."""

    applied_steps: tuple[object, ...] = ()
    pending_steps: tuple[object, ...] = ()
    message: str = ""


# (schema_id, schema in force or None, new schema) -> what was done to the table. Raising keeps
# the schema in force (the new one is not swapped in).
SwapHook = Callable[[str, TableSchema | None, TableSchema], SwapResult]


@dataclass(frozen=True)
class SchemaCacheStatus:
    """A snapshot for health checks: every hosted schema and the ontology server's state."""

    schemas: tuple[SchemaInfo, ...]
    missing: tuple[str, ...]  # hosted schema ids with no schema at all
    ontology_reachable: bool | None  # None: never asked (nothing tried yet)
    circuit_open: bool
    stale_after_seconds: float
    use_mock: bool
    details: dict[str, str] = field(default_factory=dict)

    @property
    def degraded_reasons(self) -> list[str]:
        """Why the cache is not fully healthy (empty when it is)."""
        reasons = [f"no schema for {sid}" for sid in self.missing]
        for info in self.schemas:
            if info.source is SchemaSource.MOCK:
                reasons.append(f"{info.schema_id}: serving the built-in mock")
            elif info.source is SchemaSource.DISK:
                reasons.append(f"{info.schema_id}: serving the last-known-good copy from disk")
            elif info.age_seconds is not None and info.age_seconds > self.stale_after_seconds:
                reasons.append(f"{info.schema_id}: stale ({info.age_seconds:.0f}s old)")
            if info.last_error:
                reasons.append(f"{info.schema_id}: last refresh failed: {info.last_error}")
        if self.ontology_reachable is False:
            reasons.append("ontology server unreachable")
        return reasons
