"""WatchProjects' plumbing on the event loop: wake-ups, the lake's poll, the end of streams on drain.

A watcher holds no thread: it waits on the loop for a wake-up (a commit that
logged changes, told by the writer thread), its progress deadline or the
drain, then reads the log in the offloader like any query. Nothing committed
means nothing read: an idle watcher costs one timer. On a lake other
replicas commit too, so while anyone watches, one task per process asks the
lake for its latest position every WATCH_POLL_INTERVAL and wakes the
watchers when it moved.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

log = logging.getLogger(__name__)


class WatchHub:
    def __init__(self, loop: asyncio.AbstractEventLoop, *, poll_interval: float | None = None) -> None:
        self._loop = loop
        self._poll_interval = poll_interval  # None: every commit is this process's (a file)
        self._latest: Callable[[], int] | None = None
        self._poller: asyncio.Task[None] | None = None
        self._woken = asyncio.Event()
        self.version = 0  # bumped by every wake-up: a watcher that saw this version has read everything
        self.closing = False
        self.connected = 0
        self.delivered = 0

    def follow(self, latest: Callable[[], int]) -> None:
        """`latest`: the lake's latest position (blocking; polled in a thread while anyone watches)."""
        self._latest = latest

    # -- the writer thread
    def committed(self, tables: frozenset[str]) -> None:
        """A group that logged changes committed (called in the writer thread)."""
        if self.connected:  # read without a lock: a watcher that arrives meanwhile reads the log anyway
            self._loop.call_soon_threadsafe(self._wake)

    # -- the loop
    def _wake(self) -> None:
        self.version += 1
        woken, self._woken = self._woken, asyncio.Event()
        woken.set()

    async def wait(self, seen: int, timeout: float) -> None:
        """Returns on a wake-up after version `seen`, on drain, or after `timeout` seconds."""
        if self.version != seen or self.closing:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._woken.wait(), timeout)

    def joined(self) -> None:
        self.connected += 1
        if self._poll_interval is not None and self._latest is not None and self._poller is None:
            self._poller = asyncio.ensure_future(self._poll(self._poll_interval, self._latest))

    def left(self) -> None:
        self.connected -= 1

    def close(self) -> None:
        """The drain: every watcher ends (UNAVAILABLE) and resumes elsewhere from its last position."""
        self.closing = True
        self._wake()
        if self._poller is not None:
            self._poller.cancel()

    async def _poll(self, interval: float, latest: Callable[[], int]) -> None:
        known = -1
        try:
            while self.connected and not self.closing:
                try:
                    position = await asyncio.to_thread(latest)
                except Exception as error:  # noqa: BLE001 - the catalog may be away; the watchers wait on
                    log.debug("watch poll failed: %s", type(error).__name__)
                else:
                    if position != known:
                        known = position
                        self._wake()
                await asyncio.sleep(interval)
        finally:
            self._poller = None
