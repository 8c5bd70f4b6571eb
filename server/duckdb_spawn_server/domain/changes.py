"""The change feed: positions, their tokens, and the use cases that read the change log.

Every committed change to a project has a position in a totally ordered log,
written by storage in the same transaction as the change (storage/change_log.py).
Clients see positions only as opaque tokens; a token names the log it came
from, so a token of another database (or of a log that was recreated) is
refused like an expired one: the client must list again. Nothing here knows
gRPC, SQL or asyncio.
"""

from __future__ import annotations

import base64
import binascii
import uuid
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Protocol

from .errors import FailedPrecondition, FieldViolation, InvalidArgument
from .records import ProjectRecord, format_timestamp, utc_now
from .schema import TableSchema

DEFAULT_CHANGES_PAGE = 100
MAX_CHANGES_PAGE = 1000
_TOKEN_PREFIX = "c1."


class ChangeType(Enum):
    CREATED = "CREATED"
    UPDATED = "UPDATED"
    DELETED = "DELETED"


@dataclass(frozen=True)
class Change:
    """One committed change. `record` is the project after it (None for a delete: `etag` is the deleted one's)."""

    position: int
    change_type: ChangeType
    project_id: uuid.UUID
    etag: str
    commit_time: datetime
    record: ProjectRecord | None


@dataclass(frozen=True)
class ChangeBatch:
    """Changes after a position, in order, and how far the read got: every change up to `reached` is in it
    (or in an earlier batch), so reading on from `reached` misses nothing."""

    changes: list[Change]
    reached: int


@dataclass(frozen=True)
class LogWindow:
    """What the log still holds: every change after `oldest_position`, committed after `oldest_time`."""

    log_id: str
    oldest_position: int
    oldest_time: datetime


class ChangeStore(Protocol):
    """The change log, as storage keeps it."""

    def window(self) -> LogWindow: ...

    def changes_after(self, schema: TableSchema, position: int, limit: int) -> ChangeBatch:
        """Up to `limit` changes to `schema`'s table after `position`, in order.

        Raises `ChangePositionExpired` if the log no longer holds every change after `position`.
        """
        ...

    def latest_position(self) -> int:
        """The position of the latest committed change (read from the database)."""
        ...

    def position_at(self, when: datetime) -> int:
        """The position of the latest change committed at or before `when`; raises ReadTimeExpired
        when `when` is older than the window."""
        ...


class ChangePositionExpired(FailedPrecondition):
    def __init__(self, window: LogWindow | None = None, *, foreign: bool = False) -> None:
        if foreign:
            message = "the position is not one of this data product's change log (it was recreated); list again"
        else:
            message = "the position is older than the change retention window; list again, then watch from the " \
                      "listing's read_position"
        metadata = {}
        if window is not None:
            metadata = {"oldest_position": encode_position(window.log_id, window.oldest_position),
                        "oldest_time": format_timestamp(window.oldest_time)}
        super().__init__(message, reason="CHANGE_POSITION_EXPIRED", metadata=metadata)


class ReadTimeExpired(FailedPrecondition):
    def __init__(self, window: LogWindow, field: str = "read_time") -> None:
        oldest = format_timestamp(window.oldest_time)
        super().__init__(f"{field} is older than the change retention window; the oldest readable time is {oldest}",
                         reason="READ_TIME_EXPIRED", metadata={"oldest_read_time": oldest},
                         violations=[FieldViolation(field, f"must not be before {oldest}", "READ_TIME_EXPIRED")])


# -- tokens -----------------------------------------------------------------------------------
def encode_position(log_id: str, position: int) -> str:
    raw = f"{log_id}:{position}".encode()
    return _TOKEN_PREFIX + base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_position(token: str, window: LogWindow, field: str = "start_position") -> int:
    """The position a token names; INVALID_ARGUMENT when it is not a token, expired when it is another log's."""
    try:
        if not token.startswith(_TOKEN_PREFIX) or len(token) > 200:
            raise ValueError("not a position token")
        body = token[len(_TOKEN_PREFIX):]
        log_id, _, number = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)).decode().partition(":")
        position = int(number)
        if position < 0 or not log_id:
            raise ValueError("negative")
    except (ValueError, binascii.Error, UnicodeDecodeError):
        description = "is not a change position this service issued"
        raise InvalidArgument(f"{field} {description}", reason="INVALID_POSITION",
                              violations=[FieldViolation(field, description, "INVALID_POSITION")]) from None
    if log_id != window.log_id:
        raise ChangePositionExpired(window, foreign=True)
    return position


# -- use cases --------------------------------------------------------------------------------
@dataclass(frozen=True)
class ChangePage:
    changes: list[Change]
    next_page_token: str
    position: str  # token of the position the page reached


class ChangeFeed:
    """List and follow changes; resolve `read_time`s to positions."""

    def __init__(self, store: ChangeStore) -> None:
        self._store = store
        self._window: LogWindow | None = None

    @property
    def store(self) -> ChangeStore:
        return self._store

    def log_id(self) -> str:
        if self._window is None:  # the log's id never changes while the process runs
            self._window = self._store.window()
        return self._window.log_id

    def token(self, position: int) -> str:
        return encode_position(self.log_id(), position)

    def start(self, start_position: str, start_time: datetime | None, *, default_latest: bool) -> int:
        """Where a list or watch starts: after a token, after a time, or (neither) now / the oldest retained."""
        window = self._store.window()
        if start_position:
            position = decode_position(start_position, window)
        elif start_time is not None:
            return self.position_at(start_time, "start_time")
        elif default_latest:
            return self._store.latest_position()
        else:
            return window.oldest_position
        if position < window.oldest_position:
            raise ChangePositionExpired(window)
        if position > self._store.latest_position():
            description = "is ahead of the change log: not a position this log handed out"
            raise InvalidArgument(f"start_position {description}", reason="INVALID_POSITION",
                                  violations=[FieldViolation("start_position", description, "INVALID_POSITION")])
        return position

    def position_at(self, when: datetime, field: str = "read_time") -> int:
        if when > utc_now():
            description = "must not be in the future"
            raise InvalidArgument(f"{field} {description}", reason="READ_TIME_IN_FUTURE",
                                  violations=[FieldViolation(field, description, "READ_TIME_IN_FUTURE")])
        try:
            return self._store.position_at(when)
        except ReadTimeExpired as error:
            if field == "read_time":
                raise
            raise ReadTimeExpired(self._store.window(), field) from error

    def read(self, schema: TableSchema, position: int, limit: int) -> ChangeBatch:
        return self._store.changes_after(schema, position, limit)

    def list(self, schema: TableSchema, start_position: str, start_time: datetime | None, page_size: int,
             page_token: str) -> ChangePage:
        if page_size < 0:
            raise InvalidArgument("page_size must not be negative", reason="INVALID_PAGE_SIZE",
                                  violations=[FieldViolation("page_size", "must not be negative",
                                                             "INVALID_PAGE_SIZE")])
        size = min(page_size or DEFAULT_CHANGES_PAGE, MAX_CHANGES_PAGE)
        if page_token:  # a page token is the position the previous page reached
            position = decode_position(page_token, self._store.window(), "page_token")
        else:
            position = self.start(start_position, start_time, default_latest=False)
        batch = self._store.changes_after(schema, position, size + 1)
        more = len(batch.changes) > size
        changes = batch.changes[:size]
        reached = changes[-1].position if more else batch.reached
        token = self.token(reached)
        return ChangePage(changes, token if more else "", token)
