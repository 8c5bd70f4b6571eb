"""Results that other threads produce, handed to the event loop in batches.

`asyncio.wrap_future` wakes the loop once per future (a write to its
self-pipe, then a loop iteration), and it does so even for a future that
completes on the loop itself. A group commit completes dozens of calls at
once: here they are queued and the loop is woken once for all of them,
and a future completed on the loop's own thread is delivered directly.
"""

from __future__ import annotations

import asyncio
import threading
from collections import deque
from concurrent.futures import Future
from typing import Any, TypeVar

T = TypeVar("T")


class Completions:
    def __init__(self, loop: asyncio.AbstractEventLoop, loop_thread: int) -> None:
        self._loop = loop
        self._loop_thread = loop_thread
        self._lock = threading.Lock()
        self._pending: deque[tuple[asyncio.Future[Any], Future[Any]]] = deque()
        self._scheduled = False

    def awaitable(self, source: Future[T]) -> asyncio.Future[T]:
        """An asyncio future (of the loop) that completes like `source`; call on the loop."""
        target: asyncio.Future[T] = self._loop.create_future()
        source.add_done_callback(lambda done: self._deliver(target, done))
        return target

    def _deliver(self, target: asyncio.Future[Any], done: Future[Any]) -> None:
        if threading.get_ident() == self._loop_thread:
            _copy(done, target)
            return
        with self._lock:
            self._pending.append((target, done))
            if self._scheduled:
                return
            self._scheduled = True
        self._loop.call_soon_threadsafe(self._drain)

    def _drain(self) -> None:
        with self._lock:
            batch = list(self._pending)
            self._pending.clear()
            self._scheduled = False
        for target, done in batch:
            _copy(done, target)


def _copy(done: Future[Any], target: asyncio.Future[Any]) -> None:
    if target.done():  # the waiting call was cancelled meanwhile
        return
    if done.cancelled():
        target.cancel()
        return
    error = done.exception()
    if error is not None:
        target.set_exception(error)
    else:
        target.set_result(done.result())
