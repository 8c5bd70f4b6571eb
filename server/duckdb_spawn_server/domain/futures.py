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


def then(source: Future[A], transform: Callable[[A], B]) -> Future[B]:
    """A future of `transform(result)`; an exception of either side fails it."""
    mapped: Future[B] = Future()

    def done(finished: Future[A]) -> None:
        try:
            value = transform(finished.result())
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
