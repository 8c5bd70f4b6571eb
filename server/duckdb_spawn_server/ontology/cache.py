"""The schema cache: the `SchemaProvider` and `SchemaRegistry` backed by the ontology server.

Requests never wait for the network once a schema is held:

- **TTL refresh with ETags.** A background refresher (ontology/schema_refresher.py)
  revalidates each schema when its TTL runs out, sending `If-None-Match`;
  a 304 just renews it.
- **Single flight.** Concurrent needs for the same schema share one request
  (ontology/schema_pipeline.py).
- **Stale-while-revalidate.** A request that finds its schema due for a
  refresh is served the schema in hand and merely wakes the refresher.
- **Stale-if-error.** A failed refresh keeps the schema in force; the
  last-known-good document is also persisted beside the database
  (ontology/disk_copy.py), so a cold start during an outage serves it.
- **Circuit breaker** (ontology/breaker.py) with exponential backoff and
  jitter between attempts while the server is down.
- **Atomic swap after validation.** A fetched document must normalise into a
  valid `TableSchema`; then the swap hook runs (it creates or migrates the
  table, see app.py), and only then is the new schema put in force
  (ontology/schemas_in_force.py).
- **The mock** is used only when `USE_MOCK_ONTO_SERVER=true` and nothing
  better has been obtained; the refresher keeps asking the server and
  replaces it as soon as the server answers. With the mock disabled and
  nothing obtained, requests get UNAVAILABLE: a schema is never invented.

This module wires those parts and answers the two ports; what it counts goes
through `SchemaCacheMetrics` (ontology/cache_metrics.py).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass

from ..domain.errors import Unavailable
from ..domain.names import schema_name
from ..domain.records import ActiveSchema
from ..domain.schema_registry import RefreshOutcome, RefreshReport, SchemaCacheStatus, SchemaInfo, SwapHook
from .breaker import CircuitBreaker, CircuitState
from .cache_metrics import NoSchemaCacheMetrics, SchemaCacheMetrics
from .client import OntologyClient
from .disk_copy import DiskCopies
from .schema_pipeline import CIRCUIT_OPEN, SchemaPipeline
from .schema_refresher import SchemaRefresher
from .schemas_in_force import SchemasInForce


@dataclass(frozen=True)
class CacheSettings:
    ttl: float
    use_mock: bool


class SchemaCache:
    def __init__(self, schema_ids: Sequence[str], client: OntologyClient, disk: DiskCopies,
                 settings: CacheSettings, metrics: SchemaCacheMetrics | None = None, *,
                 breaker: CircuitBreaker | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self._client = client
        self._settings = settings
        self._clock = clock
        self._breaker = breaker or CircuitBreaker(base=min(0.5, settings.ttl), cap=max(settings.ttl, 0.5),
                                                  clock=clock)
        self._schemas = SchemasInForce(schema_ids, settings.ttl, clock)
        self._pipeline = SchemaPipeline(self._schemas, client, disk, self._breaker,
                                        metrics if metrics is not None else NoSchemaCacheMetrics(), clock=clock)
        self._refresher = SchemaRefresher(self._schemas, self._pipeline, self._breaker, clock)

    # -- wiring and lifecycle ------------------------------------------------------
    def set_swap_hook(self, hook: SwapHook) -> None:
        self._schemas.set_swap_hook(hook)

    def add_listener(self, listener: Callable[[], None]) -> None:
        """Called after every swap (for readiness)."""
        self._schemas.add_listener(listener)

    def start(self) -> None:
        """Obtains every hosted schema: server first, then the disk copy, then (if enabled) the mock.

        Returns once each schema is in force or has been tried; the refresher
        keeps trying in the background for those still missing.
        """
        flights = [self._pipeline.start(sid, force=True) for sid in self._schemas.ids]
        for flight in flights:
            try:
                flight.result(timeout=self._client.timeout + 1.0)
            except FutureTimeout:
                pass
        for sid in self._schemas.ids:
            self._pipeline.fall_back(sid, use_mock=self._settings.use_mock)
        self._refresher.start()

    def stop(self) -> None:
        self._pipeline.stop()  # first: a fetch cut short from here on reports nothing
        self._refresher.stop()
        self._client.close()

    def ready(self) -> bool:
        return self._schemas.ready()

    def hosted_ids(self) -> tuple[str, ...]:
        return self._schemas.ids

    # -- SchemaProvider ------------------------------------------------------------
    def active(self, schema_id: str, *, timeout: float | None = None) -> ActiveSchema:
        held = self._schemas.get(schema_id)
        if held is not None:
            if self._schemas.expired(held) and not self._pipeline.in_flight(schema_id):
                self._refresher.wake()  # stale-while-revalidate: serve what we hold
            return held.active
        self._schemas.require_hosted(schema_id)
        flight = self._pipeline.start(schema_id)  # cold: one fetch however many callers
        try:
            flight.result(timeout=self._wait_budget(timeout))
        except FutureTimeout:
            pass
        held = self._schemas.get(schema_id)
        if held is not None:
            return held.active
        raise self._unavailable(schema_id)

    def _unavailable(self, schema_id: str) -> Unavailable:
        reason = self._schemas.error(schema_id, "the ontology server has not answered yet")
        return Unavailable(
            f"no schema {schema_id!r} has been obtained from the ontology server yet ({reason}); retry later",
            retry_after_seconds=max(1.0, round(self._breaker.retry_in(), 1)), reason="SCHEMA_UNAVAILABLE",
            metadata={"schema": schema_name(schema_id)})

    # -- SchemaRegistry ------------------------------------------------------------
    def describe(self, schema_id: str) -> SchemaInfo:
        self._schemas.require_hosted(schema_id)
        held = self._schemas.get(schema_id)
        if held is None:
            raise self._unavailable(schema_id)
        return self._schemas.info(schema_id, held)

    def refresh(self, schema_ids: Sequence[str], *, timeout: float | None = None) -> list[RefreshReport]:
        ids = list(schema_ids) or list(self._schemas.ids)
        for sid in ids:
            self._schemas.require_hosted(sid)
        deadline = self._clock() + self._wait_budget(timeout)
        reports = []
        for sid in ids:
            report = self._await(sid, self._pipeline.start(sid, force=True), deadline)
            if report.message == CIRCUIT_OPEN:  # joined a background attempt that was held back
                report = self._await(sid, self._pipeline.start(sid, force=True), deadline)
            reports.append(report)
        return reports

    def _wait_budget(self, timeout: float | None) -> float:
        """How long a caller may wait for a fetch: never past its deadline, answering a little before it."""
        budget = self._client.timeout + 1.0
        if timeout is not None:
            budget = min(budget, timeout - max(0.05, timeout * 0.1))
        return max(0.0, budget)

    def _await(self, schema_id: str, flight: Future[RefreshReport], deadline: float) -> RefreshReport:
        try:
            return flight.result(timeout=max(0.0, deadline - self._clock()))
        except FutureTimeout:
            version = self._schemas.version(schema_id)
            return RefreshReport(schema_id, RefreshOutcome.FAILED, version, version,
                                 "the refresh did not finish before the deadline; it goes on in the background")

    def status(self) -> SchemaCacheStatus:
        return SchemaCacheStatus(
            schemas=self._schemas.infos(), missing=self._schemas.missing(),
            ontology_reachable=self._pipeline.reachable,
            circuit_open=self._breaker.state is not CircuitState.CLOSED,
            stale_after_seconds=self._settings.ttl + self._client.timeout + 1.0, use_mock=self._settings.use_mock,
            details={"ontology_server_url": self._client.base_url})
