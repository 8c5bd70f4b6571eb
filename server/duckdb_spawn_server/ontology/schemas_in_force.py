"""The schemas in force: for each hosted schema id, the one requests are validated against.

Beside each schema it keeps what its last refresh said (the error, and
after a rejected document the time before which not to retry), the swap
hook that prepares the table before a new schema comes into force, and the
listeners told after every swap (readiness). Reads take no lock: an entry
is replaced whole, never changed in place.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from ..domain.errors import NotFound
from ..domain.names import schema_name
from ..domain.records import ActiveSchema
from ..domain.schema import TableSchema
from ..domain.schema_registry import SchemaInfo, SchemaSource, SwapHook, SwapResult


@dataclass(frozen=True)
class HeldSchema:
    """A schema in force, where it came from and when."""

    active: ActiveSchema
    origin: SchemaSource  # SERVER, DISK or MOCK; `info` reports a SERVER schema past its TTL as CACHE
    etag: str = ""
    fetched_at: datetime | None = None  # wall clock, for display
    fetched_monotonic: float | None = None  # TTL arithmetic (SERVER); time in force (MOCK)
    body: str = ""  # the document as the server sent it (persisted as the last-known-good copy)

    @classmethod
    def compile(cls, schema: TableSchema, origin: SchemaSource, *, etag: str = "",
                fetched_at: datetime | None = None, fetched_monotonic: float | None = None,
                body: str = "") -> HeldSchema:
        """A schema new to the cache, with its validator compiled."""
        return cls(ActiveSchema.compile(schema, origin), origin, etag, fetched_at, fetched_monotonic, body)


class SchemasInForce:
    def __init__(self, schema_ids: Sequence[str], ttl: float, clock: Callable[[], float]) -> None:
        self.ids = tuple(schema_ids)
        self.ttl = ttl
        self._clock = clock
        self._lock = threading.Lock()
        self._held: dict[str, HeldSchema] = {}
        self._errors: dict[str, str] = {}
        self._retry_at: dict[str, float] = {}  # after a rejected document: not before the next TTL
        self._swap_hook: SwapHook | None = None
        self._listeners: list[Callable[[], None]] = []

    def set_swap_hook(self, hook: SwapHook) -> None:
        self._swap_hook = hook

    def add_listener(self, listener: Callable[[], None]) -> None:
        """Called after every swap (for readiness)."""
        self._listeners.append(listener)

    # -- what is in force ------------------------------------------------------------
    def get(self, schema_id: str) -> HeldSchema | None:
        return self._held.get(schema_id)

    def version(self, schema_id: str) -> str:
        held = self._held.get(schema_id)
        return held.active.schema.version if held else ""

    def ready(self) -> bool:
        return all(sid in self._held for sid in self.ids)

    def missing(self) -> tuple[str, ...]:
        return tuple(sid for sid in self.ids if sid not in self._held)

    def require_hosted(self, schema_id: str) -> None:
        if schema_id not in self.ids:
            raise NotFound(f"schema {schema_id} is not hosted by this service",
                           resource_type="duckdbspawn.io/Schema", resource_name=schema_name(schema_id),
                           reason="SCHEMA_NOT_HOSTED")

    def install(self, schema_id: str, held: HeldSchema) -> SwapResult:
        """Puts a new schema in force once the swap hook has prepared its table (raising keeps the old one)."""
        previous = self._held.get(schema_id)
        result = SwapResult()
        if self._swap_hook is not None:
            result = self._swap_hook(schema_id, previous.active.schema if previous else None, held.active.schema)
        self.renew(schema_id, held)
        for listener in self._listeners:
            listener()
        return result

    def renew(self, schema_id: str, held: HeldSchema) -> None:
        """Replaces the entry of a schema whose content is unchanged: no swap, nobody told."""
        with self._lock:
            self._held[schema_id] = held

    def expired(self, held: HeldSchema) -> bool:
        """A server schema past its TTL (the refresher schedules disk and mock entries itself)."""
        return held.origin is SchemaSource.SERVER and self._clock() - (held.fetched_monotonic or 0.0) >= self.ttl

    # -- what the last refresh said --------------------------------------------------
    def error(self, schema_id: str, default: str = "") -> str:
        return self._errors.get(schema_id, default)

    def failed(self, schema_id: str, message: str) -> None:
        self._errors[schema_id] = message

    def hold_off(self, schema_id: str, until: float) -> None:
        """No scheduled refresh before `until` (monotonic), unless `succeeded` comes first."""
        self._retry_at[schema_id] = until

    def retry_at(self, schema_id: str) -> float:
        return self._retry_at.get(schema_id, 0.0)

    def succeeded(self, schema_id: str) -> None:
        self._errors.pop(schema_id, None)
        self._retry_at.pop(schema_id, None)

    # -- as the registry reports it --------------------------------------------------
    def infos(self) -> tuple[SchemaInfo, ...]:
        return tuple(self.info(sid, held) for sid in self.ids if (held := self._held.get(sid)))

    def info(self, schema_id: str, held: HeldSchema) -> SchemaInfo:
        source = held.origin
        if held.origin is SchemaSource.MOCK:
            age = self._clock() - held.fetched_monotonic if held.fetched_monotonic is not None else None
        elif held.origin is SchemaSource.DISK:
            age = (datetime.now(UTC) - held.fetched_at).total_seconds() if held.fetched_at else None
        else:
            age = self._clock() - (held.fetched_monotonic or 0.0)
            source = SchemaSource.SERVER if age < self.ttl else SchemaSource.CACHE
        return SchemaInfo(schema_id, held.active.schema, source, held.etag, held.fetched_at, age,
                          self._errors.get(schema_id, ""))
