"""`ChangeStream`: WatchProjects as an iterator that resumes by itself.

    with client.watch(start_position=page.read_position) as changes:
        for change in changes:          # ProjectChange, in position order, each once
            apply(change)
            save(changes.position)      # resume from here after a restart of your own

A server ends a watch with UNAVAILABLE when it drains or restarts (and a
crash looks the same from here). The stream then calls again from the last
position it delivered, so the caller sees no gap and no duplicate: the
server sends exactly the changes after that position. Reconnecting waits as
the client's retries do (retry.py: exponential backoff with full jitter,
never less than the server's RetryInfo), for at most `max_attempts` calls in
a row and at most `timeout` seconds after the stream was lost. Any other
failure raises the client's typed error: FAILED_PRECONDITION with reason
CHANGE_POSITION_EXPIRED (the position left the retention window: list
again), RESOURCE_EXHAUSTED (too many watchers), ...

`close()`, from any thread, cancels the call and ends the iteration.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import grpc
from duckdb_spawn.v1 import project_service_pb2 as pb

from . import models
from .errors import DeadlineExceededError, DuckdbSpawnError, UnavailableError, from_rpc_error
from .retry import RetryHook, RetryPolicy

# Opens a WatchProjects call (credentials included) for a request.
OpenWatch = Callable[[pb.WatchProjectsRequest], Any]
Event = models.ProjectChange | models.WatchProgress


class _Closed(Exception):
    """close() was called: the iteration ends quietly."""


class ChangeStream:
    """An iterator of `ProjectChange` (and `WatchProgress` when asked for) that survives server restarts.

    `position` is always a position to resume from: every change up to it has
    been yielded. It advances with each change and with each progress message,
    so it stays recent while nothing changes.
    """

    def __init__(self, open_call: OpenWatch, request: pb.WatchProjectsRequest,
                 decode: Callable[[pb.ProjectChange], models.ProjectChange], *, policy: RetryPolicy,
                 timeout: float | None, on_retry: RetryHook | None, progress: bool) -> None:
        self._open = open_call
        self._request = request
        self._decode = decode
        self._policy = policy
        self._timeout = timeout
        self._on_retry = on_retry
        self._progress = progress
        self._lock = threading.Lock()
        self._closed = threading.Event()
        self._call: Any = None
        self.position: str = request.start_position
        self.reconnects = 0  # how many times the stream was lost and called again
        # Connected before the caller iterates: a bad or expired position raises here, and `position`
        # already holds where the stream starts (the server answers at once with it).
        first = self._establish(None)
        if not first[1].changes:
            self.position = first[1].position or self.position
        self._events = self._run(first)

    # -- the caller's side --------------------------------------------------------------

    def __iter__(self) -> Iterator[Event]:
        return self

    def __next__(self) -> Event:
        return next(self._events)

    def close(self) -> None:
        """Cancels the call; the iteration ends (also when another thread is waiting in it)."""
        with self._lock:
            self._closed.set()
            call = self._call
        if call is not None:
            call.cancel()

    @property
    def closed(self) -> bool:
        return self._closed.is_set()

    def __enter__(self) -> ChangeStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
        try:
            self._events.close()
        except ValueError:  # the generator is running in another thread: close() ends it there
            pass

    # -- the call ------------------------------------------------------------------------

    def _run(self, first: tuple[Any, pb.WatchProjectsResponse]) -> Iterator[Event]:
        call, head = first
        try:
            while True:
                lost = yield from self._deliver(call, head)
                call, head = self._establish(lost)
        except _Closed:
            return
        finally:
            with self._lock:
                call, self._call = self._call, None
            if call is not None:
                call.cancel()

    def _establish(self, lost: UnavailableError | None) -> tuple[Any, pb.WatchProjectsResponse]:
        """Calls until a stream answers. `lost`: what ended the previous stream (None: this is the first)."""
        lost_at, failures = time.monotonic(), 0
        if lost is not None:
            # A drain, a restart or a crash: call again at once (another replica may serve it), unless the
            # server said how long to wait.
            failures = 1
            self._wait(lost, failures, lost_at, backoff=False)
        while True:
            try:
                call, head = self._connect(lost_at)
            except UnavailableError as error:
                failures += 1
                self._wait(error, failures, lost_at)
                continue
            except DeadlineExceededError as error:
                if lost is None:
                    raise
                # The time ran out while calling again: what ended the watch is the server staying away.
                raise UnavailableError(f"the server stayed away for {self._timeout:g}s: {lost.message}",
                                       lost.details) from error
            if lost is not None:
                self.reconnects += 1
            return call, head

    def _connect(self, since: float) -> tuple[Any, pb.WatchProjectsResponse]:
        """Opens the call from the current position and reads its first response (the server sends one at
        once), within what is left of `timeout` counted from `since`."""
        request = pb.WatchProjectsRequest()
        request.CopyFrom(self._request)
        if self.position:  # from the last position delivered (the caller's start_time is behind us)
            request.start_position = self.position
            request.ClearField("start_time")
        call = self._open(request)
        with self._lock:
            self._call = call
            closed = self._closed.is_set()
        if closed:
            call.cancel()
            raise _Closed
        expired = threading.Event()
        timer = None
        if self._timeout is not None:  # the stream has no deadline; its first answer has
            def expire() -> None:
                expired.set()
                call.cancel()

            timer = threading.Timer(max(self._timeout - (time.monotonic() - since), 0.0), expire)
            timer.daemon = True
            timer.start()
        try:
            return call, next(call)
        except StopIteration:
            raise UnavailableError("the watch ended before its first response") from None
        except grpc.RpcError as error:
            if self._closed.is_set():
                raise _Closed from None
            if expired.is_set():
                raise DeadlineExceededError(f"WatchProjects did not answer within {self._timeout:g}s") from error
            raise from_rpc_error(error) from error
        finally:
            if timer is not None:
                timer.cancel()

    def _deliver(self, call: Any, response: pb.WatchProjectsResponse) -> Iterator[Event]:
        """Yields what the stream brings until it is lost; returns the UNAVAILABLE that ended it."""
        while True:
            if response.changes:
                for message in response.changes:
                    change = self._decode(message)
                    self.position = change.position
                    yield change
                self.position = response.position or self.position
            else:
                self.position = response.position or self.position
                if self._progress:
                    yield models.WatchProgress(self.position)
            try:
                response = next(call)
            except StopIteration:
                return UnavailableError("the server ended the watch")
            except grpc.RpcError as error:
                if self._closed.is_set():
                    raise _Closed from None
                failure = from_rpc_error(error)
                if isinstance(failure, UnavailableError):
                    return failure
                raise failure from error

    def _wait(self, error: DuckdbSpawnError, failures: int, since: float, backoff: bool = True) -> None:
        """Waits before call number `failures + 1`, or raises `error` when the attempts or the time
        (`timeout` from `since`) are used up. Without `backoff`, waits only the server's RetryInfo delay."""
        if failures >= self._policy.max_attempts:
            raise error
        if backoff:
            seconds = self._policy.delay(failures, error)
        else:
            seconds = error.retry_delay.total_seconds() if error.retry_delay is not None else 0.0
        if self._timeout is not None and time.monotonic() + seconds - since >= self._timeout:
            raise error
        if self._on_retry is not None:
            self._on_retry(failures, error, seconds)
        if self._closed.wait(seconds):
            raise _Closed
