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
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from .errors import FieldViolation, InvalidArgument
from .names import parse_uuid

DEFAULT_RETENTION = timedelta(hours=24)


@dataclass(frozen=True)
class RequestKey:
    """Who a logged outcome belongs to."""

    request_id: str  # canonical UUID text
    method: str  # the RPC, e.g. "CreateProject"
    fingerprint: str  # a hash of the request body without its request_id


@dataclass(frozen=True)
class LoggedRequest:
    request_id: str
    method: str
    fingerprint: str
    outcome: str  # JSON
    create_time: datetime


@dataclass(frozen=True)
class LogEntry:
    """What a write commits with its rows; entries created before `expired_before` may be replaced."""

    key: RequestKey
    outcome: str
    create_time: datetime
    expired_before: datetime


class RequestReplayed(Exception):
    """Raised by storage when the request id was logged by a concurrent copy of the request."""

    def __init__(self, logged: LoggedRequest) -> None:
        super().__init__(logged.request_id)
        self.logged = logged


class RequestLog(Protocol):
    def find_request(self, request_id: str, not_before: datetime) -> LoggedRequest | None:
        """The entry for `request_id` created at or after `not_before`, or None."""
        ...


def parse_request_id(text: str, field_name: str = "request_id") -> str | None:
    """'' -> None; a UUID -> its canonical text; anything else is INVALID_ARGUMENT."""
    if not text:
        return None
    parsed = parse_uuid(text)  # the canonical form: uuid.UUID() alone also takes non-ASCII digits
    if parsed is None:
        description = "must be a UUID such as 123e4567-e89b-42d3-a456-426614174000"
        raise InvalidArgument(f"{field_name} {description}",
                              violations=[FieldViolation(field_name, description, "INVALID_FORMAT")],
                              reason="INVALID_REQUEST_ID")
    return str(parsed)


def _utc_now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


@dataclass
class Idempotency:
    log: RequestLog
    retention: timedelta = DEFAULT_RETENTION
    clock: Callable[[], datetime] = _utc_now

    def cutoff(self) -> datetime:
        return self.clock() - self.retention

    def stored_outcome(self, key: RequestKey | None) -> Any | None:
        """The decoded outcome of an earlier run of this request, or None if there was none."""
        if key is None:
            return None
        logged = self.log.find_request(key.request_id, self.cutoff())
        return None if logged is None else self.check(key, logged)

    def check(self, key: RequestKey, logged: LoggedRequest) -> Any:
        """The logged outcome if it belongs to this very request; REQUEST_ID_REUSED otherwise."""
        if logged.method != key.method or logged.fingerprint != key.fingerprint:
            description = (f"request_id {key.request_id} was already used for a different request; "
                           "send a new request_id for a new request")
            raise InvalidArgument(description,
                                  violations=[FieldViolation("request_id", description, "REQUEST_ID_REUSED")],
                                  reason="REQUEST_ID_REUSED", metadata={"request_id": key.request_id})
        return json.loads(logged.outcome)

    def entry(self, key: RequestKey | None, outcome: Callable[[], Any]) -> LogEntry | None:
        """The log entry for a request with an id; `outcome` is only computed then (most requests have none)."""
        if key is None:
            return None
        return LogEntry(key, json.dumps(outcome(), separators=(",", ":")), self.clock(), self.cutoff())
