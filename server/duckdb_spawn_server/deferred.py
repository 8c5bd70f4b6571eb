"""A value that exists only once start-up has produced it.

The gRPC server starts first, so probes can see NOT_SERVING while the
database opens; servicers therefore hold `Deferred` components and answer
UNAVAILABLE (retryable) until they are set.
"""

from __future__ import annotations

from typing import Generic, TypeVar

from .domain.errors import Unavailable

T = TypeVar("T")


class Deferred(Generic[T]):
    def __init__(self, what: str) -> None:
        self._what = what
        self._value: T | None = None

    def set(self, value: T) -> None:
        self._value = value

    def get(self) -> T:
        value = self._value
        if value is None:
            raise Unavailable(f"{self._what} is not ready yet; retry shortly", retry_after_seconds=1.0,
                              reason="NOT_READY")
        return value

    def peek(self) -> T | None:
        return self._value
