"""Blocking work (DuckDB queries, waiting on the writer) off the event loop, bounded in time.

Each call runs in a bounded thread pool inside a `QueryScope`: when the
call's deadline or the server's cap (`QUERY_TIMEOUT`) passes, or the client
cancels, the scope interrupts the DuckDB query it is running and the pooled
connection is returned at once. The context (the correlation id of the log
lines) travels into the thread.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

import grpc

from ..domain.errors import DeadlineExceeded
from ..storage.query_scope import QueryScope
from .completions import Completions

T = TypeVar("T")

TIMEOUT_VARIABLE = "QUERY_TIMEOUT"
_END = object()


class Offloader:
    def __init__(self, workers: int, query_timeout: float, completions: Completions) -> None:
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="blocking")
        self.query_timeout = query_timeout
        self.completions = completions

    async def run(self, context: grpc.aio.ServicerContext, fn: Callable[..., T], *args: Any) -> T:
        """`fn(*args)` in the pool, within the call's deadline and QUERY_TIMEOUT."""
        return await self._step(QueryScope(), context, fn, *args)

    async def iterate(self, context: grpc.aio.ServicerContext, produce: Callable[[], Iterator[T]]) -> AsyncIterator[T]:
        """The items of a blocking iterator (made in the pool), each step bounded like `run`; closed at the end.

        The next item is made while the current one is sent (one step ahead, so
        memory holds at most two items): a stream pays for the slower of the
        database and the network, not for both.
        """
        scope = QueryScope()
        iterator = await self._wait(scope, context, self._submit(scope, produce))
        pending: Future[Any] | None = None
        try:
            pending = self._submit(scope, next, iterator, _END)
            while True:
                item = await self._wait(scope, context, pending)
                if item is _END:
                    return
                pending = self._submit(scope, next, iterator, _END)
                yield item
        finally:
            if pending is not None and not pending.done():  # the client went away mid-step: stop the query
                scope.cancel()
                await asyncio.wait([asyncio.wrap_future(pending)])
            close = getattr(iterator, "close", None)
            if close is not None:  # gives its connection back to the pool
                await asyncio.shield(asyncio.wrap_future(self._executor.submit(close)))

    def _submit(self, scope: QueryScope, fn: Callable[..., Any], *args: Any) -> Future[Any]:
        return self._executor.submit(contextvars.copy_context().run, scope.run, fn, *args)

    async def _step(self, scope: QueryScope, context: grpc.aio.ServicerContext, fn: Callable[..., Any],
                    *args: Any) -> Any:
        return await self._wait(scope, context, self._submit(scope, fn, *args))

    async def _wait(self, scope: QueryScope, context: grpc.aio.ServicerContext, submitted: Future[Any]) -> Any:
        timeout, variable = self._limit(context)
        try:
            return await asyncio.wait_for(self.completions.awaitable(submitted), timeout)
        except TimeoutError:
            scope.expire(timeout, variable)
            raise scope.error() or DeadlineExceeded("the call ran past its deadline") from None
        except asyncio.CancelledError:
            scope.cancel()
            raise

    def _limit(self, context: grpc.aio.ServicerContext) -> tuple[float, str | None]:
        """Seconds this step may take, and the variable to name when it is the server's cap that binds."""
        left = context.time_remaining()
        if left is None or left >= self.query_timeout:
            return self.query_timeout, TIMEOUT_VARIABLE
        return max(left, 0.0), None

    def shutdown(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
