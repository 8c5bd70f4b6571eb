"""Fetch → validate → install: how a schema document becomes the schema in force.

A refresh of one schema id asks the ontology server through the circuit
breaker (sending the ETag in hand), validates the answer into a
`TableSchema`, and installs it into `SchemasInForce`, whose swap hook
prepares the table first; the document is then persisted as the
last-known-good copy. A failed fetch, a rejected document or a refused swap
leaves the schema in force as it was. Refreshes are single-flight: while one
runs for an id, every caller shares its Future. `fall_back` installs the
disk copy or the mock when the server has given nothing.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime

from ..domain.schema import InvalidSchema, TableSchema
from ..domain.schema_registry import RefreshOutcome, RefreshReport, SchemaSource
from .breaker import CircuitBreaker
from .cache_metrics import FetchOutcome, SchemaCacheMetrics
from .client import OntologyClient, OntologyError
from .disk_copy import DiskCopies, DiskCopy
from .formats import parse_schema_text
from .mock import mock_schema
from .schemas_in_force import HeldSchema, SchemasInForce

log = logging.getLogger(__name__)

# The message of a refresh held back by the open circuit (SchemaCache.refresh retries on it).
CIRCUIT_OPEN = "circuit open: the ontology server failed recently"


class SchemaPipeline:
    def __init__(self, schemas: SchemasInForce, client: OntologyClient, disk: DiskCopies,
                 breaker: CircuitBreaker, metrics: SchemaCacheMetrics, *, clock: Callable[[], float]) -> None:
        self._schemas = schemas
        self._client = client
        self._disk = disk
        self._breaker = breaker
        self._metrics = metrics
        self._clock = clock
        # Guards the refreshes in flight and is notified when one settles; the refresher waits on it.
        self.changes = threading.Condition(threading.Lock())
        self._flights: dict[str, Future[RefreshReport]] = {}
        self._reachable: bool | None = None
        self._stopped = threading.Event()
        self._executor = ThreadPoolExecutor(max_workers=min(4, max(1, len(schemas.ids))),
                                            thread_name_prefix="ontology-fetch")

    @property
    def reachable(self) -> bool | None:
        """Whether the ontology server answered the last fetch (None: not asked yet)."""
        return self._reachable

    def stop(self) -> None:
        self._stopped.set()
        self._executor.shutdown(wait=False, cancel_futures=True)

    # -- single flight ---------------------------------------------------------------
    def start(self, schema_id: str, *, force: bool = False) -> Future[RefreshReport]:
        """The refresh of `schema_id` in flight, started if none is; `force` skips the breaker's wait."""
        with self.changes:
            flight = self._flights.get(schema_id)
            if flight is not None:
                return flight
            flight = self._flights[schema_id] = Future()
        try:
            self._executor.submit(self._run, schema_id, force, flight)
        except RuntimeError:  # shutting down
            self._settle(schema_id, flight, RefreshReport(schema_id, RefreshOutcome.FAILED, "", "", "stopping"))
        return flight

    def in_flight(self, schema_id: str) -> bool:
        return schema_id in self._flights

    def any_in_flight(self) -> bool:
        return bool(self._flights)

    def _run(self, schema_id: str, force: bool, flight: Future[RefreshReport]) -> None:
        try:
            report = self._refresh(schema_id, force)
        except Exception:  # a bug must not leave callers waiting
            log.exception("schema refresh failed unexpectedly", extra={"schema_id": schema_id})
            version = self._schemas.version(schema_id)
            report = RefreshReport(schema_id, RefreshOutcome.FAILED, version, version, "internal error")
        self._settle(schema_id, flight, report)

    def _settle(self, schema_id: str, flight: Future[RefreshReport], report: RefreshReport) -> None:
        with self.changes:
            self._flights.pop(schema_id, None)
            self.changes.notify_all()
        flight.set_result(report)

    # -- fetch → validate → install ----------------------------------------------------
    def _refresh(self, schema_id: str, force: bool) -> RefreshReport:
        previous = self._schemas.get(schema_id)
        before = previous.active.schema.version if previous else ""
        if not force and not self._breaker.allow():
            return RefreshReport(schema_id, RefreshOutcome.FAILED, before, before, CIRCUIT_OPEN)
        etag = previous.etag if previous and previous.origin in (SchemaSource.SERVER, SchemaSource.DISK) else ""
        started = time.monotonic()
        try:
            fetched = self._client.fetch_schema(schema_id, etag)
        except OntologyError as error:
            return self._fetch_failed(schema_id, before, error, time.monotonic() - started)
        elapsed = time.monotonic() - started
        self._breaker.record_success()
        self._note_contact(True)
        now, mono = datetime.now(UTC), self._clock()
        self._schemas.hold_off(schema_id, mono + self._schemas.ttl)  # until a success below clears it
        if fetched.not_modified and previous is not None:
            self._metrics.observe_schema_request("not_modified", elapsed)
            self._schemas.renew(schema_id, replace(previous, origin=SchemaSource.SERVER,
                                                   etag=fetched.etag or previous.etag, fetched_at=now,
                                                   fetched_monotonic=mono))
            return self._unchanged(schema_id, before, FetchOutcome.NOT_MODIFIED, "not modified (HTTP 304)")
        body = fetched.body.decode("utf-8", errors="replace")
        try:
            schema = parse_schema_text(schema_id, fetched.body)
        except InvalidSchema as error:
            self._metrics.observe_schema_request("invalid", elapsed)
            return self._rejected(schema_id, before, error)
        self._metrics.observe_schema_request("ok", elapsed)
        if previous is not None and _same(previous.active.schema, schema):  # keep the compiled validator
            self._schemas.renew(schema_id, HeldSchema(previous.active, SchemaSource.SERVER, fetched.etag, now,
                                                      mono, body))
            if previous.origin is not SchemaSource.SERVER or previous.etag != fetched.etag:
                self._disk.save(DiskCopy(schema_id, body, fetched.etag, now))
            return self._unchanged(schema_id, before, FetchOutcome.UNCHANGED, "identical content")
        held = HeldSchema.compile(schema, SchemaSource.SERVER, etag=fetched.etag, fetched_at=now,
                                  fetched_monotonic=mono, body=body)
        return self._put_in_force(schema_id, before, held, now)

    def _fetch_failed(self, schema_id: str, before: str, error: OntologyError, seconds: float) -> RefreshReport:
        self._metrics.observe_schema_request(error.outcome, seconds)
        self._breaker.record_failure()
        self._note_contact(False, str(error))
        self._schemas.failed(schema_id, str(error))
        self._metrics.count_schema_fetch(schema_id, FetchOutcome.ERROR)
        return RefreshReport(schema_id, RefreshOutcome.FAILED, before, before, str(error))

    def _unchanged(self, schema_id: str, before: str, outcome: FetchOutcome, message: str) -> RefreshReport:
        self._schemas.succeeded(schema_id)
        self._metrics.count_schema_fetch(schema_id, outcome)
        return RefreshReport(schema_id, RefreshOutcome.UNCHANGED, before, before, message)

    def _rejected(self, schema_id: str, before: str, error: InvalidSchema) -> RefreshReport:
        summary = "; ".join(error.problems[:5])[:500]
        log.error("ontology schema rejected; the previous schema stays in force",
                  extra={"schema_id": schema_id, "problems": summary, "version_in_force": before})
        self._metrics.count_schema_rejection(schema_id)
        self._metrics.count_schema_fetch(schema_id, FetchOutcome.REJECTED)
        self._schemas.failed(schema_id, f"schema rejected: {summary}")
        return RefreshReport(schema_id, RefreshOutcome.FAILED, before, before, f"schema rejected: {summary}")

    def _put_in_force(self, schema_id: str, before: str, held: HeldSchema, now: datetime) -> RefreshReport:
        version = held.active.schema.version
        try:
            result = self._schemas.install(schema_id, held)
        except Exception as error:  # the hook refused or failed: keep the previous schema
            message = f"the table could not be prepared for version {version}: {_describe(error)}"
            log.error("schema not put in force", extra={"schema_id": schema_id, "version": version,
                                                        "error": message},
                      exc_info=not hasattr(error, "reason"))
            self._schemas.failed(schema_id, message)
            self._metrics.count_schema_fetch(schema_id, FetchOutcome.ERROR)
            return RefreshReport(schema_id, RefreshOutcome.FAILED, before, before, message)
        self._disk.save(DiskCopy(schema_id, held.body, held.etag, now))
        self._schemas.succeeded(schema_id)
        self._metrics.count_schema_fetch(schema_id, FetchOutcome.UPDATED)
        log.info("schema in force", extra={"schema_id": schema_id, "version": version,
                                           "previous_version": before, "source": SchemaSource.SERVER.value})
        changed = f"now {version}" + (f" (was {before})" if before else "")
        return RefreshReport(schema_id, RefreshOutcome.UPDATED, before, version,
                             result.message or changed, result.applied_steps, result.pending_steps)

    def _note_contact(self, reachable: bool, error: str = "") -> None:
        if self._stopped.is_set():  # a fetch cut short by stop(): nothing to report
            return
        if reachable and self._reachable is False:
            log.info("ontology server reachable again", extra={"url": self._client.base_url})
        elif not reachable and self._reachable is not False:
            log.warning("ontology server unreachable; the schemas in force stay",
                        extra={"url": self._client.base_url, "error": error})
        self._reachable = reachable

    # -- fallbacks -------------------------------------------------------------------------
    def fall_back(self, schema_id: str, *, use_mock: bool) -> None:
        """With nothing in force: the last-known-good copy from disk, else (if enabled) the mock."""
        if self._schemas.get(schema_id) is None:
            self._install_disk_copy(schema_id)
        if self._schemas.get(schema_id) is None and use_mock:
            self._install_mock(schema_id)

    def _install_disk_copy(self, schema_id: str) -> None:
        copy = self._disk.load(schema_id)
        if copy is None:
            return
        try:
            schema = parse_schema_text(schema_id, copy.body)
            self._schemas.install(schema_id, HeldSchema.compile(schema, SchemaSource.DISK, etag=copy.etag,
                                                                fetched_at=copy.fetched_at, body=copy.body))
        except InvalidSchema as error:
            log.error("the last-known-good schema on disk is invalid; ignoring it",
                      extra={"schema_id": schema_id, "problems": "; ".join(error.problems[:5])[:500]})
            return
        except Exception as error:  # noqa: BLE001 - the table could not be prepared
            log.error("cannot put the last-known-good schema in force",
                      extra={"schema_id": schema_id, "error": _describe(error)})
            return
        log.warning("serving the last-known-good schema from disk until the ontology server answers",
                    extra={"schema_id": schema_id, "version": schema.version,
                           "fetched_at": copy.fetched_at.isoformat()})

    def _install_mock(self, schema_id: str) -> None:
        schema = mock_schema(schema_id)
        if schema is None:
            log.error("the built-in mock has no schema for this id", extra={"schema_id": schema_id})
            return
        try:  # its age counts from when it came into force
            self._schemas.install(schema_id, HeldSchema.compile(schema, SchemaSource.MOCK,
                                                                fetched_monotonic=self._clock()))
        except Exception as error:  # noqa: BLE001
            log.error("cannot put the mock schema in force", extra={"schema_id": schema_id,
                                                                    "error": _describe(error)})
            return
        log.warning("serving the built-in mock schema until the ontology server answers",
                    extra={"schema_id": schema_id})


def _same(current: TableSchema, fetched: TableSchema) -> bool:
    return (current.content_hash() == fetched.content_hash() and current.version == fetched.version
            and current.description == fetched.description and current.source_format == fetched.source_format)


def _describe(error: Exception) -> str:
    return getattr(error, "message", None) or type(error).__name__
