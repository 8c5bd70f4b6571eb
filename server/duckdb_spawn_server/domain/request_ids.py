"""Request ids (AIP-155): the key a write is logged under, the logged entry, and their parsing.

See domain/idempotency.py for the rules; this module holds the values that
storage and the use cases exchange, so neither has to know the other.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from .errors import FieldViolation, InvalidArgument
from .names import parse_uuid


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
