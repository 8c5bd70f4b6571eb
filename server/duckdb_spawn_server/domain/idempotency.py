"""Request ids (AIP-155): a retried request returns the first result and writes nothing twice.

A write that carries a `request_id` commits, in the same transaction as its
rows, a log entry holding the request's method, a fingerprint of its body
and its outcome (the response, as JSON). A retry finds the entry and gets
the stored outcome back without writing anything; the entry is durable, so
this holds across restarts. Two copies of one request racing each other are
settled inside the single writer: the second finds the first's entry in
the same serial order and writes nothing.

Rules (documented in the README):

* Entries are kept for the retention window (`REQUEST_ID_RETENTION_SECONDS`,
  default 24 hours); after it a request id may be reused for anything.
* Only successful writes are logged; a request that failed wrote nothing,
  so retrying it simply runs it again.
* Reusing a request id for a different request (another method, or a body
  that differs in anything but the request id) is INVALID_ARGUMENT with
  reason REQUEST_ID_REUSED: retrying it can never succeed, which is what
  INVALID_ARGUMENT means; ALREADY_EXISTS would wrongly suggest the
  resource the client wanted is there.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from .errors import FieldViolation, InvalidArgument
from .futures import recover
from .ports import IdempotencyLog
from .request_ids import LogEntry, LoggedRequest, RequestKey, RequestReplayed

DEFAULT_RETENTION = timedelta(hours=24)
T = TypeVar("T")
# Makes the log entry for a write from its outcome (computed only when the request has an id);
# None when the request has no id.
EntryFor = Callable[[Callable[[], Any]], LogEntry | None]


def _utc_now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


@dataclass
class Idempotency:
    log: IdempotencyLog
    retention: timedelta = DEFAULT_RETENTION
    clock: Callable[[], datetime] = _utc_now

    def run(self, key: RequestKey | None, write: Callable[[EntryFor], T], replay: Callable[[Any], T], *,
            earlier: LoggedRequest | None = None) -> T:
        """`write` once per request: a retry gets `replay(first outcome)` back and writes nothing.

        An earlier run is looked for first (or given: `earlier`, found by
        `find`). `write` commits the entry it makes (from its outcome) with
        its rows; a concurrent copy of the request that logged first makes
        storage raise RequestReplayed, replayed alike.
        """
        stored = self.check(key, earlier) if earlier is not None else self.stored_outcome(key)
        if stored is not None:
            return replay(stored)
        try:
            return write(self._entry_for(key))
        except RequestReplayed as replayed:
            return replay(self.check(key, replayed.logged))

    def submit(self, key: RequestKey | None, write: Callable[[EntryFor], Future[T]],
               replay: Callable[[Any], T]) -> Future[T]:
        """`run` for a write that completes later; it never waits, so it does not look first: the
        write itself meets an earlier run's entry (RequestReplayed) and the outcome is replayed."""
        written = write(self._entry_for(key))
        if key is None:
            return written
        return recover(written, RequestReplayed, lambda replayed: replay(self.check(key, replayed.logged)))

    def find(self, request_id: str | None) -> LoggedRequest | None:
        """The entry of an earlier run, by request id alone (an import learns its fingerprint only at
        the end of its stream, but skips validating a retry's rows from the start)."""
        return None if request_id is None else self.log.find_request(request_id, self.cutoff())

    def stored_outcome(self, key: RequestKey | None) -> Any | None:
        """The decoded outcome of an earlier run of this request, or None if there was none."""
        logged = self.find(key.request_id if key is not None else None)
        return None if logged is None else self.check(key, logged)

    def check(self, key: RequestKey | None, logged: LoggedRequest) -> Any:
        """The logged outcome if it belongs to this very request; REQUEST_ID_REUSED otherwise."""
        assert key is not None, "only a write with a request id is logged"
        if logged.method != key.method or logged.fingerprint != key.fingerprint:
            description = (f"request_id {key.request_id} was already used for a different request; "
                           "send a new request_id for a new request")
            raise InvalidArgument(description,
                                  violations=[FieldViolation("request_id", description, "REQUEST_ID_REUSED")],
                                  reason="REQUEST_ID_REUSED", metadata={"request_id": key.request_id})
        return json.loads(logged.outcome)

    def cutoff(self) -> datetime:
        return self.clock() - self.retention

    def _entry_for(self, key: RequestKey | None) -> EntryFor:
        def entry(outcome: Callable[[], Any]) -> LogEntry | None:
            if key is None:
                return None  # most requests have no id: the outcome is never computed
            return LogEntry(key, json.dumps(outcome(), separators=(",", ":")), self.clock(), self.cutoff())

        return entry
