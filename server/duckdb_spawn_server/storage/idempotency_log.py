"""The idempotency log behind request ids (AIP-155): one row per logged request.

An entry is written by the same writer op, in the same transaction, as the
rows of the write it belongs to: either both commit or neither does. The
check for an existing entry runs inside that op too; since the writer
applies ops one at a time, two copies of one request can never both write.
Expired entries are ignored by lookups and deleted now and then.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

import duckdb

from ..domain.request_ids import LogEntry, LoggedRequest
from .ddl import for_engine
from .pool import ConnectionPool
from .sql import first_row, quote_identifier, table_exists
from .writer import Execute, GroupCommitWriter

REQUEST_LOG_TABLE = "_duckdb_spawn_requests"
_TABLE = quote_identifier(REQUEST_LOG_TABLE)
CREATE_REQUEST_LOG_SQL = f"""
CREATE TABLE IF NOT EXISTS {_TABLE} (
    request_id VARCHAR PRIMARY KEY,
    method VARCHAR NOT NULL,
    fingerprint VARCHAR NOT NULL,
    outcome VARCHAR NOT NULL,
    create_time TIMESTAMP NOT NULL
)"""
_SELECT = f"SELECT request_id, method, fingerprint, outcome, create_time FROM {_TABLE} WHERE request_id = ?"
PURGE_INTERVAL_SECONDS = 600.0

T = TypeVar("T")


@dataclass(frozen=True)
class Replayed:
    """A writer op's result when its request id was already logged: nothing was written."""

    logged: LoggedRequest


class DuckDBIdempotencyLog:
    def __init__(self, pool: ConnectionPool, writer: GroupCommitWriter) -> None:
        self._pool = pool
        self._writer = writer
        self._lock = threading.Lock()
        self._last_purge = float("-inf")

    def ensure_table(self, timeout: float | None = None) -> None:
        with self._pool.connection() as con:  # read first: nothing to write at most start-ups
            if table_exists(con, REQUEST_LOG_TABLE):
                return
        ddl = for_engine(CREATE_REQUEST_LOG_SQL, keys_enforced=self._pool.keys_enforced)
        self._writer.run(Execute(lambda con: con.execute(ddl)), timeout)

    def find_request(self, request_id: str, not_before: datetime) -> LoggedRequest | None:
        with self._pool.connection() as con:
            row = first_row(con.execute(_SELECT, [request_id]))
        logged = _logged(row)
        return logged if logged is not None and logged.create_time >= not_before else None

    def guarded(self, entry: LogEntry | None, write: Callable[[duckdb.DuckDBPyConnection], T],
                succeeded: Callable[[T], bool] = lambda _: True) -> Callable[[duckdb.DuckDBPyConnection], Any]:
        """`write`, made to run at most once per request id: use inside a writer op.

        Returns `Replayed` instead of writing when the id is already logged;
        otherwise runs `write` and, if `succeeded(result)`, logs the entry in
        the same transaction.
        """
        if entry is None:
            return write

        def run(con: duckdb.DuckDBPyConnection) -> Any:
            logged = _logged(first_row(con.execute(_SELECT, [entry.key.request_id])))
            if logged is not None:
                if logged.create_time >= entry.expired_before:
                    return Replayed(logged)
                con.execute(f"DELETE FROM {_TABLE} WHERE request_id = ?", [entry.key.request_id])
            result = write(con)
            if succeeded(result):
                key = entry.key
                con.execute(f"INSERT INTO {_TABLE} VALUES (?, ?, ?, ?, ?)",
                            [key.request_id, key.method, key.fingerprint, entry.outcome, entry.create_time])
                self._maybe_purge(con, entry.expired_before)
            return result

        return run

    def _maybe_purge(self, con: duckdb.DuckDBPyConnection, expired_before: datetime) -> None:
        now = time.monotonic()
        with self._lock:
            if now - self._last_purge < PURGE_INTERVAL_SECONDS:
                return
            self._last_purge = now
        con.execute(f"DELETE FROM {_TABLE} WHERE create_time < ?", [expired_before])


def _logged(row: tuple[Any, ...] | None) -> LoggedRequest | None:
    if row is None:
        return None
    request_id, method, fingerprint, outcome, create_time = row
    return LoggedRequest(request_id, method, fingerprint, outcome, create_time)
