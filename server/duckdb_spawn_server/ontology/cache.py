"""The schema cache: the `SchemaProvider` and `SchemaRegistry` backed by the ontology server.

Requests never wait for the network once a schema is held:

- **TTL refresh with ETags.** A background refresher revalidates each schema
  when its TTL runs out, sending `If-None-Match`; a 304 just renews it.
- **Single flight.** Concurrent needs for the same schema share one request.
- **Stale-while-revalidate.** A request that finds its schema due for a
  refresh is served the schema in hand and merely wakes the refresher.
- **Stale-if-error.** A failed refresh keeps the schema in force; the
  last-known-good document is also persisted beside the database
  (ontology/disk_copy.py), so a cold start during an outage serves it.
- **Circuit breaker** (ontology/breaker.py) with exponential backoff and
  jitter between attempts while the server is down.
- **Atomic swap after validation.** A fetched document must normalise into a
  valid `TableSchema`; then the swap hook runs (it creates or migrates the
  table, see app.py), and only then is the new schema put in force.
- **The mock** is used only when `USE_MOCK_ONTO_SERVER=true` and nothing
  better has been obtained; the refresher keeps asking the server and
  replaces it as soon as the server answers. With the mock disabled and
  nothing obtained, requests get UNAVAILABLE: a schema is never invented.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from ..domain.errors import NotFound, Unavailable
from ..domain.names import schema_name
from ..domain.records import ActiveSchema
from ..domain.schema import InvalidSchema, TableSchema
from ..domain.schema_registry import (
    RefreshOutcome,
    RefreshReport,
    SchemaCacheStatus,
    SchemaInfo,
    SchemaSource,
    SwapHook,
    SwapResult,
)
from ..observability.metrics import DomainMetrics
from ..observability.schema_metrics import SchemaMetrics
from .breaker import CircuitBreaker, CircuitState
from .client import OntologyClient, OntologyError
from .disk_copy import DiskCopies, DiskCopy
from .formats import parse_schema_text
from .mock import mock_schema

log = logging.getLogger(__name__)

SERVER, DISK, MOCK = "server", "disk", "mock"
_CIRCUIT_OPEN = "circuit open: the ontology server failed recently"
_MAX_IDLE_WAIT = 5.0


@dataclass(frozen=True)
class CacheSettings:
    ttl: float
    use_mock: bool


@dataclass(frozen=True)
class _Entry:
    active: ActiveSchema
    origin: str  # SERVER, DISK or MOCK
    etag: str = ""
    fetched_at: datetime | None = None  # wall clock, for display
    fetched_monotonic: float | None = None  # TTL arithmetic (SERVER); time in force (MOCK)
    body: str = ""


def _utc_now() -> datetime:
    return datetime.now(UTC)


class SchemaCache:
    def __init__(self, schema_ids: Sequence[str], client: OntologyClient, disk: DiskCopies,
                 settings: CacheSettings, metrics: SchemaMetrics, *, breaker: CircuitBreaker | None = None,
                 clock: Callable[[], float] = time.monotonic, requests: DomainMetrics | None = None) -> None:
        self._ids = tuple(schema_ids)
        self._client = client
        self._disk = disk
        self._settings = settings
        self._metrics = metrics
        self._requests = requests  # duckdb_spawn_ontology_requests_total{endpoint="schema"}
        self._clock = clock
        self._breaker = breaker or CircuitBreaker(base=min(0.5, settings.ttl), cap=max(settings.ttl, 0.5),
                                                  clock=clock)
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._entries: dict[str, _Entry] = {}
        self._errors: dict[str, str] = {}
        self._retry_at: dict[str, float] = {}  # after a rejected document: not before the next TTL
        self._flights: dict[str, Future[RefreshReport]] = {}
        self._reachable: bool | None = None
        self._swap_hook: SwapHook | None = None
        self._listeners: list[Callable[[], None]] = []
        self._stopped = threading.Event()
        self._executor = ThreadPoolExecutor(max_workers=min(4, max(1, len(self._ids))),
                                            thread_name_prefix="ontology-fetch")
        self._refresher = threading.Thread(target=self._refresh_loop, name="ontology-refresher", daemon=True)

    # -- wiring and lifecycle ------------------------------------------------------
    def set_swap_hook(self, hook: SwapHook) -> None:
        self._swap_hook = hook

    def add_listener(self, listener: Callable[[], None]) -> None:
        """Called after every swap (for readiness)."""
        self._listeners.append(listener)

    def start(self) -> None:
        """Obtains every hosted schema: server first, then the disk copy, then (if enabled) the mock.

        Returns once each schema is in force or has been tried; the refresher
        keeps trying in the background for those still missing.
        """
        flights = [self._start_refresh(sid, force=True) for sid in self._ids]
        for flight in flights:
            try:
                flight.result(timeout=self._client.timeout + 1.0)
            except FutureTimeout:
                pass
        for sid in self._ids:
            if sid not in self._entries:
                self._load_disk_copy(sid)
            if sid not in self._entries and self._settings.use_mock:
                self._load_mock(sid)
        self._refresher.start()

    def stop(self) -> None:
        self._stopped.set()
        with self._wake:
            self._wake.notify_all()
        if self._refresher.is_alive():
            self._refresher.join(timeout=5)
        self._executor.shutdown(wait=False, cancel_futures=True)
        self._client.close()

    def ready(self) -> bool:
        return all(sid in self._entries for sid in self._ids)

    def hosted_ids(self) -> tuple[str, ...]:
        return self._ids

    # -- SchemaProvider ------------------------------------------------------------
    def active(self, schema_id: str, *, timeout: float | None = None) -> ActiveSchema:
        entry = self._entries.get(schema_id)
        if entry is not None:
            if self._expired(entry) and schema_id not in self._flights:
                with self._wake:  # stale-while-revalidate: wake the refresher, serve what we hold
                    self._wake.notify_all()
            return entry.active
        self._require_hosted(schema_id)
        flight = self._start_refresh(schema_id)  # cold: one fetch however many callers
        try:
            flight.result(timeout=self._wait_budget(timeout))
        except FutureTimeout:
            pass
        entry = self._entries.get(schema_id)
        if entry is not None:
            return entry.active
        raise self._unavailable(schema_id)

    def _unavailable(self, schema_id: str) -> Unavailable:
        reason = self._errors.get(schema_id, "the ontology server has not answered yet")
        return Unavailable(
            f"no schema {schema_id!r} has been obtained from the ontology server yet ({reason}); retry later",
            retry_after_seconds=max(1.0, round(self._breaker.retry_in(), 1)), reason="SCHEMA_UNAVAILABLE",
            metadata={"schema": schema_name(schema_id)})

    def _require_hosted(self, schema_id: str) -> None:
        if schema_id not in self._ids:
            raise NotFound(f"schema {schema_id} is not hosted by this service",
                           resource_type="duckdbspawn.io/Schema", resource_name=schema_name(schema_id),
                           reason="SCHEMA_NOT_HOSTED")

    # -- SchemaRegistry ------------------------------------------------------------
    def describe(self, schema_id: str) -> SchemaInfo:
        self._require_hosted(schema_id)
        entry = self._entries.get(schema_id)
        if entry is None:
            raise self._unavailable(schema_id)
        return self._info(schema_id, entry)

    def refresh(self, schema_ids: Sequence[str], *, timeout: float | None = None) -> list[RefreshReport]:
        ids = list(schema_ids) or list(self._ids)
        for sid in ids:
            self._require_hosted(sid)
        deadline = self._clock() + self._wait_budget(timeout)
        reports = []
        for sid in ids:
            report = self._await(sid, self._start_refresh(sid, force=True), deadline)
            if report.message == _CIRCUIT_OPEN:  # joined a background attempt that was held back
                report = self._await(sid, self._start_refresh(sid, force=True), deadline)
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
            version = self._version(schema_id)
            return RefreshReport(schema_id, RefreshOutcome.FAILED, version, version,
                                 "the refresh did not finish before the deadline; it goes on in the background")

    def status(self) -> SchemaCacheStatus:
        infos = tuple(self._info(sid, entry) for sid in self._ids if (entry := self._entries.get(sid)))
        return SchemaCacheStatus(
            schemas=infos, missing=tuple(sid for sid in self._ids if sid not in self._entries),
            ontology_reachable=self._reachable, circuit_open=self._breaker.state is not CircuitState.CLOSED,
            stale_after_seconds=self._settings.ttl + self._client.timeout + 1.0, use_mock=self._settings.use_mock,
            details={"ontology_server_url": self._client.base_url})

    def _info(self, schema_id: str, entry: _Entry) -> SchemaInfo:
        if entry.origin == MOCK:
            source = SchemaSource.MOCK
            age = self._clock() - entry.fetched_monotonic if entry.fetched_monotonic is not None else None
        elif entry.origin == DISK:
            source = SchemaSource.DISK
            age = (_utc_now() - entry.fetched_at).total_seconds() if entry.fetched_at else None
        else:
            age = self._clock() - (entry.fetched_monotonic or 0.0)
            source = SchemaSource.SERVER if age < self._settings.ttl else SchemaSource.CACHE
        return SchemaInfo(schema_id, entry.active.schema, source, entry.etag, entry.fetched_at, age,
                          self._errors.get(schema_id, ""))

    def _version(self, schema_id: str) -> str:
        entry = self._entries.get(schema_id)
        return entry.active.schema.version if entry else ""

    # -- refreshing ----------------------------------------------------------------
    def _expired(self, entry: _Entry) -> bool:
        """A server schema past its TTL (the refresher schedules disk and mock entries itself)."""
        return entry.origin == SERVER and self._clock() - (entry.fetched_monotonic or 0.0) >= self._settings.ttl

    def _start_refresh(self, schema_id: str, *, force: bool = False) -> Future[RefreshReport]:
        with self._lock:
            flight = self._flights.get(schema_id)
            if flight is not None:
                return flight
            flight = self._flights[schema_id] = Future()
        try:
            self._executor.submit(self._run_refresh, schema_id, force, flight)
        except RuntimeError:  # shutting down
            self._finish(schema_id, flight, RefreshReport(schema_id, RefreshOutcome.FAILED, "", "", "stopping"))
        return flight

    def _run_refresh(self, schema_id: str, force: bool, flight: Future[RefreshReport]) -> None:
        try:
            report = self._refresh_now(schema_id, force)
        except Exception:  # a bug must not leave callers waiting
            log.exception("schema refresh failed unexpectedly", extra={"schema_id": schema_id})
            version = self._version(schema_id)
            report = RefreshReport(schema_id, RefreshOutcome.FAILED, version, version, "internal error")
        self._finish(schema_id, flight, report)

    def _finish(self, schema_id: str, flight: Future[RefreshReport], report: RefreshReport) -> None:
        with self._wake:
            self._flights.pop(schema_id, None)
            self._wake.notify_all()
        flight.set_result(report)

    def _refresh_now(self, schema_id: str, force: bool) -> RefreshReport:
        previous = self._entries.get(schema_id)
        before = previous.active.schema.version if previous else ""
        if not force and not self._breaker.allow():
            return RefreshReport(schema_id, RefreshOutcome.FAILED, before, before, _CIRCUIT_OPEN)
        etag = previous.etag if previous and previous.origin in (SERVER, DISK) else ""
        started = time.monotonic()
        try:
            fetched = self._client.fetch_schema(schema_id, etag)
        except OntologyError as error:
            self._observe_request(error.outcome, time.monotonic() - started)
            self._breaker.record_failure()
            self._note_contact(False, str(error))
            self._errors[schema_id] = str(error)
            self._metrics.fetches.labels(schema_id=schema_id, outcome="error").inc()
            return RefreshReport(schema_id, RefreshOutcome.FAILED, before, before, str(error))
        elapsed = time.monotonic() - started
        self._breaker.record_success()
        self._note_contact(True)
        now, mono = _utc_now(), self._clock()
        self._retry_at[schema_id] = mono + self._settings.ttl  # until a success below clears it
        if fetched.not_modified and previous is not None:
            self._observe_request("not_modified", elapsed)
            self._set(schema_id, replace(previous, origin=SERVER, etag=fetched.etag or previous.etag,
                                         fetched_at=now, fetched_monotonic=mono))
            self._succeeded(schema_id)
            self._metrics.fetches.labels(schema_id=schema_id, outcome="not_modified").inc()
            return RefreshReport(schema_id, RefreshOutcome.UNCHANGED, before, before, "not modified (HTTP 304)")
        body = fetched.body.decode("utf-8", errors="replace")
        try:
            schema = parse_schema_text(schema_id, fetched.body)
        except InvalidSchema as error:
            self._observe_request("invalid", elapsed)
            return self._rejected(schema_id, before, error)
        self._observe_request("ok", elapsed)
        if previous is not None and _same(previous.active.schema, schema):
            self._set(schema_id, _Entry(previous.active, SERVER, fetched.etag, now, mono, body))
            if previous.origin != SERVER or previous.etag != fetched.etag:
                self._disk.save(DiskCopy(schema_id, body, fetched.etag, now))
            self._succeeded(schema_id)
            self._metrics.fetches.labels(schema_id=schema_id, outcome="unchanged").inc()
            return RefreshReport(schema_id, RefreshOutcome.UNCHANGED, before, before, "identical content")
        try:
            result = self._install(schema_id, _Entry(ActiveSchema.compile(schema, SERVER), SERVER, fetched.etag,
                                                     now, mono, body))
        except Exception as error:  # the hook refused or failed: keep the previous schema
            message = f"the table could not be prepared for version {schema.version}: {_describe(error)}"
            log.error("schema not put in force", extra={"schema_id": schema_id, "version": schema.version,
                                                        "error": message},
                      exc_info=not hasattr(error, "reason"))
            self._errors[schema_id] = message
            self._metrics.fetches.labels(schema_id=schema_id, outcome="error").inc()
            return RefreshReport(schema_id, RefreshOutcome.FAILED, before, before, message)
        self._disk.save(DiskCopy(schema_id, body, fetched.etag, now))
        self._succeeded(schema_id)
        self._metrics.fetches.labels(schema_id=schema_id, outcome="updated").inc()
        log.info("schema in force", extra={"schema_id": schema_id, "version": schema.version,
                                           "previous_version": before, "source": SERVER})
        changed = f"now {schema.version}" + (f" (was {before})" if before else "")
        return RefreshReport(schema_id, RefreshOutcome.UPDATED, before, schema.version,
                             result.message or changed, result.applied_steps, result.pending_steps)

    def _observe_request(self, outcome: str, seconds: float) -> None:
        if self._requests is not None:
            self._requests.observe_ontology_request("schema", outcome, seconds)

    def _succeeded(self, schema_id: str) -> None:
        self._errors.pop(schema_id, None)
        self._retry_at.pop(schema_id, None)

    def _rejected(self, schema_id: str, before: str, error: InvalidSchema) -> RefreshReport:
        summary = "; ".join(error.problems[:5])[:500]
        log.error("ontology schema rejected; the previous schema stays in force",
                  extra={"schema_id": schema_id, "problems": summary, "version_in_force": before})
        self._metrics.rejections.labels(schema_id=schema_id).inc()
        self._metrics.fetches.labels(schema_id=schema_id, outcome="rejected").inc()
        self._errors[schema_id] = f"schema rejected: {summary}"
        return RefreshReport(schema_id, RefreshOutcome.FAILED, before, before, f"schema rejected: {summary}")

    def _install(self, schema_id: str, entry: _Entry) -> SwapResult:
        previous = self._entries.get(schema_id)
        result = SwapResult()
        if self._swap_hook is not None:
            result = self._swap_hook(schema_id, previous.active.schema if previous else None, entry.active.schema)
        self._set(schema_id, entry)
        for listener in self._listeners:
            listener()
        return result

    def _set(self, schema_id: str, entry: _Entry) -> None:
        with self._lock:
            self._entries[schema_id] = entry

    def _load_disk_copy(self, schema_id: str) -> None:
        copy = self._disk.load(schema_id)
        if copy is None:
            return
        try:
            schema = parse_schema_text(schema_id, copy.body)
            self._install(schema_id, _Entry(ActiveSchema.compile(schema, DISK), DISK, copy.etag, copy.fetched_at,
                                            None, copy.body))
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

    def _load_mock(self, schema_id: str) -> None:
        schema = mock_schema(schema_id)
        if schema is None:
            log.error("the built-in mock has no schema for this id", extra={"schema_id": schema_id})
            return
        try:
            self._install(schema_id, _Entry(ActiveSchema.compile(schema, MOCK), MOCK,
                                            fetched_monotonic=self._clock()))  # age: since it came into force
        except Exception as error:  # noqa: BLE001
            log.error("cannot put the mock schema in force", extra={"schema_id": schema_id,
                                                                    "error": _describe(error)})
            return
        log.warning("serving the built-in mock schema until the ontology server answers",
                    extra={"schema_id": schema_id})

    def _note_contact(self, reachable: bool, error: str = "") -> None:
        if self._stopped.is_set():  # a fetch cut short by stop(): nothing to report
            return
        if reachable and self._reachable is False:
            log.info("ontology server reachable again", extra={"url": self._client.base_url})
        elif not reachable and self._reachable is not False:
            log.warning("ontology server unreachable; the schemas in force stay",
                        extra={"url": self._client.base_url, "error": error})
        self._reachable = reachable

    def _refresh_loop(self) -> None:
        """Starts refreshes when they are due; while the circuit is not closed, one at a time."""
        while not self._stopped.is_set():
            to_start: list[str] = []
            with self._wake:
                now = self._clock()
                closed = self._breaker.state is CircuitState.CLOSED
                wait = _MAX_IDLE_WAIT
                for sid in self._ids:
                    if sid in self._flights:
                        continue
                    due = self._due_at(sid, now)
                    if due > now:
                        wait = min(wait, due - now)
                    elif closed or not (self._flights or to_start):
                        to_start.append(sid)
            for sid in to_start:
                self._start_refresh(sid)
            with self._wake:
                if not self._stopped.is_set():
                    self._wake.wait(timeout=max(0.01, wait))

    def _due_at(self, schema_id: str, now: float) -> float:
        entry = self._entries.get(schema_id)
        if entry is None or entry.origin != SERVER:
            base = now  # nothing from the server yet: keep asking (the breaker spaces the attempts)
        else:
            base = (entry.fetched_monotonic or 0.0) + self._settings.ttl
        return max(base, self._retry_at.get(schema_id, 0.0), self._breaker.next_attempt_at())


def _same(current: TableSchema, fetched: TableSchema) -> bool:
    return (current.content_hash() == fetched.content_hash() and current.version == fetched.version
            and current.description == fetched.description and current.source_format == fetched.source_format)


def _describe(error: Exception) -> str:
    return getattr(error, "message", None) or type(error).__name__
