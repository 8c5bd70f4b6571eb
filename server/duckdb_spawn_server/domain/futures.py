"""Results that arrive later (a write commits in the writer thread), chained without waiting.

The domain hands writes to storage and gets `concurrent.futures.Future`s
back, so a caller can wait (`result()`) or, on an event loop, await them
without a thread; `then` maps a result when it arrives, in the thread that
completes it.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, InvalidStateError
from typing import Any, TypeVar

A = TypeVar("A")
B = TypeVar("B")
E = TypeVar("E", bound=BaseException)


def then(source: Future[A], transform: Callable[[A], B]) -> Future[B]:
    """A future of `transform(result)`; an exception of either side fails it."""
    return _chained(source, lambda finished: transform(finished.result()))


def recover(source: Future[A], error_type: type[E], handle: Callable[[E], A]) -> Future[A]:
    """A future of `source`'s result, or of `handle(error)` when it fails with `error_type`."""
    def outcome(finished: Future[A]) -> A:
        try:
            return finished.result()
        except error_type as error:
            return handle(error)

    return _chained(source, outcome)


def _chained(source: Future[A], compute: Callable[[Future[A]], B]) -> Future[B]:
    """A future of `compute(source)` once `source` is done, computed in the thread that completes it."""
    mapped: Future[B] = Future()

    def done(finished: Future[A]) -> None:
        try:
            value = compute(finished)
        except BaseException as error:  # noqa: BLE001 - handed to whoever waits on `mapped`
            settle(mapped, error=error)
        else:
            settle(mapped, value)

    source.add_done_callback(done)
    return mapped


def settle(future: Future[Any], value: Any = None, *, error: BaseException | None = None) -> None:
    """Completes `future` unless its waiter has given up on it (cancelled it) already."""
    try:
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(value)
    except InvalidStateError:
        pass


def completed(value: A) -> Future[A]:
    future: Future[A] = Future()
    future.set_result(value)
    return future
