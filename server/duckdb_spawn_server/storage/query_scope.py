"""A bound on the database work done for one call: its deadline, and cancellation.

The API layer runs each blocking database step of a call inside a
`QueryScope` (a context variable, so nothing in between needs to pass it
on). Every pooled connection handed out inside the scope is attached to it,
so when the call's deadline (or the server's QUERY_TIMEOUT) passes, or the
client cancels, `cancel()` interrupts the running query at once and the
connection goes back to the pool: a query can no longer outlive its call.
"""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Callable
from typing import Any, TypeVar

import duckdb

from ..domain.errors import DeadlineExceeded, DomainError

T = TypeVar("T")

_current: contextvars.ContextVar[QueryScope | None] = contextvars.ContextVar("query_scope", default=None)


class QueryCancelled(DomainError):
    """The call that asked for the query has gone (cancelled); nobody reads this answer."""

    reason = "CANCELLED"


class QueryScope:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._connections: set[duckdb.DuckDBPyConnection] = set()
        self._error: DomainError | None = None

    @property
    def cancelled(self) -> bool:
        return self._error is not None

    def run(self, fn: Callable[..., T], *args: Any) -> T:
        """Runs `fn(*args)` with this scope current (in the calling thread)."""
        token = _current.set(self)
        try:
            return fn(*args)
        finally:
            _current.reset(token)

    def attach(self, con: duckdb.DuckDBPyConnection) -> None:
        with self._lock:
            self.check()
            self._connections.add(con)

    def detach(self, con: duckdb.DuckDBPyConnection) -> None:
        with self._lock:
            self._connections.discard(con)

    def check(self) -> None:
        if self._error is not None:
            raise self._error

    def expire(self, seconds: float, variable: str | None) -> None:
        """The deadline passed: interrupt what runs and refuse what follows."""
        where = f"the server's limit of {seconds:g} seconds ({variable})" if variable else "the call's deadline"
        self._stop(DeadlineExceeded(f"the query ran past {where} and was interrupted",
                                    reason="QUERY_TIMEOUT" if variable else "DEADLINE_EXCEEDED"))

    def cancel(self) -> None:
        self._stop(QueryCancelled("the call was cancelled; its query was interrupted"))

    def _stop(self, error: DomainError) -> None:
        with self._lock:
            if self._error is None:
                self._error = error
            connections = list(self._connections)
        for con in connections:
            try:
                con.interrupt()
            except duckdb.Error:
                pass

    def error(self) -> DomainError | None:
        return self._error


def current_scope() -> QueryScope | None:
    return _current.get()
