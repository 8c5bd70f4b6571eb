"""A bounded pool of read cursors.

DuckDB connections are not safe to share across threads, so each RPC
borrows one for the length of its query and gives it back. The pool also
keeps the numbers operators need (in use, idle, waiting, mean wait). A
connection handed out inside a call's `QueryScope` is interrupted when the
call's deadline passes or it is cancelled, and comes back at once. A query
that fails because the database itself failed (invalidated, disk full)
raises the client-facing UNAVAILABLE from `Database.failure`.
"""

from __future__ import annotations

import contextlib
import queue
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import duckdb

from ..domain.errors import Unavailable
from .database import Database
from .query_scope import current_scope


@dataclass(frozen=True)
class PoolStats:
    size: int
    in_use: int
    idle: int
    waiting: int
    mean_wait_seconds: float
    acquired_total: int = 0  # connections handed out since start
    wait_seconds_total: float = 0.0  # time callers spent waiting for them, summed


class ConnectionPool:
    def __init__(self, database: Database, size: int) -> None:
        self._database = database
        self.lake = database.lake  # other replicas write too: what this one caches may be stale
        self.keys_enforced = not database.lake  # DuckLake has no PRIMARY KEY or UNIQUE
        self._idle: queue.LifoQueue[duckdb.DuckDBPyConnection] = queue.LifoQueue()
        for _ in range(size):
            self._idle.put(database.cursor())
        self._size = size
        self._lock = threading.Lock()
        self._waiting = 0
        self._acquired = 0
        self._wait_total = 0.0

    @contextmanager
    def connection(self, timeout: float | None = 5.0) -> Iterator[duckdb.DuckDBPyConnection]:
        start = time.monotonic()
        with self._lock:
            self._waiting += 1
        try:
            con = self._idle.get(timeout=timeout)
        except queue.Empty:
            raise Unavailable("all database connections are busy; retry shortly",
                              retry_after_seconds=0.2, reason="POOL_EXHAUSTED") from None
        finally:
            with self._lock:
                self._waiting -= 1
        with self._lock:
            self._acquired += 1
            self._wait_total += time.monotonic() - start
        scope = current_scope()
        failed = False
        try:
            if scope is not None:
                scope.attach(con)  # the call's deadline or cancellation interrupts this connection
            yield con
        except duckdb.Error as error:
            failed = True
            stopped = scope.error() if scope is not None else None
            if stopped is not None:  # interrupted on purpose: say why
                raise stopped from None
            failure = self._database.failure(error)
            if failure is not None:
                raise failure from None
            raise
        finally:
            if scope is not None:
                scope.detach(con)
            if failed or (scope is not None and scope.error() is not None):
                # An interrupt can land on a read's closing ROLLBACK: no transaction goes back to the pool.
                with contextlib.suppress(duckdb.Error):
                    con.rollback()
            self._idle.put(con)

    def stats(self) -> PoolStats:
        with self._lock:
            idle = self._idle.qsize()
            mean = self._wait_total / self._acquired if self._acquired else 0.0
            return PoolStats(self._size, self._size - idle, idle, self._waiting, mean, self._acquired,
                             self._wait_total)

    def close(self) -> None:
        while True:
            try:
                self._idle.get_nowait().close()
            except queue.Empty:
                return
