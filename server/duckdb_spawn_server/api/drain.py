"""Draining: count calls in flight and, once a drain starts, turn new ones away.

After SIGTERM, readiness goes NOT_SERVING so load balancers stop routing
here; clients that still call get UNAVAILABLE with RetryInfo (retryable,
and clearly "not processed") while calls already running finish. Calls
still running when the grace period ends are cancelled *by the drain*: the
pipeline answers them UNAVAILABLE too, so no client ever sees CANCELLED,
which it would not retry. Health checks are not tracked (their handlers are
not registered with the gate); everything here runs on the event loop.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from ..domain.errors import Unavailable


class DrainGate:
    def __init__(self) -> None:
        self._running: set[asyncio.Task[Any]] = set()
        self._cancelled: set[asyncio.Task[Any]] = set()
        self._closed = False
        self._idle: asyncio.Event | None = None
        self._last_arrival = 0.0  # loop time of the latest call that reached the gate

    @property
    def in_flight(self) -> int:
        return len(self._running)

    def enter(self, refusable: bool = True) -> asyncio.Task[Any] | None:
        """Registers the calling task; raises UNAVAILABLE once the gate is closed (unless not `refusable`)."""
        if self._closed:
            self._last_arrival = time.monotonic()
            if refusable:
                raise self.refusal()
        task = asyncio.current_task()
        if task is not None:
            self._running.add(task)
        return task

    def leave(self, task: asyncio.Task[Any] | None) -> None:
        if task is None:
            return
        self._running.discard(task)
        self._cancelled.discard(task)
        if not self._running and self._idle is not None:
            self._idle.set()

    def cancelled_by_drain(self, task: asyncio.Task[Any]) -> bool:
        return task in self._cancelled

    @staticmethod
    def refusal() -> Unavailable:
        return Unavailable("the server is shutting down; retry on another replica", retry_after_seconds=1.0,
                           reason="SHUTTING_DOWN")

    def close(self) -> None:
        """From now on, new calls get UNAVAILABLE."""
        self._last_arrival = time.monotonic()  # the quiet window starts now: callers are still coming
        self._closed = True

    async def wait_idle(self, timeout: float) -> bool:
        """Waits until no call is in flight; False if `timeout` passed first."""
        if not self._running:
            return True
        self._idle = asyncio.Event()
        try:
            await asyncio.wait_for(self._idle.wait(), timeout)
        except TimeoutError:
            return False
        return True

    async def wait_quiet(self, quiet: float, timeout: float) -> None:
        """Keeps answering stragglers UNAVAILABLE until none has come for `quiet` seconds (at most `timeout`).

        A call that reaches the server while it stops is cancelled by grpc
        before any handler sees it (the client gets CANCELLED, which it does
        not retry); so the server stops only once callers have gone quiet.
        """
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            wait = self._last_arrival + quiet - time.monotonic()
            if wait <= 0 and not self._running:
                return
            await asyncio.sleep(min(max(wait, 0.01), deadline - time.monotonic()))

    async def cancel_running(self, settle: float = 5.0) -> int:
        """Cancels every call still running (they answer UNAVAILABLE); waits up to `settle` for them to end."""
        tasks = list(self._running)
        for task in tasks:
            self._cancelled.add(task)
            task.cancel()
        if tasks:
            await self.wait_idle(settle)
        return len(tasks)
