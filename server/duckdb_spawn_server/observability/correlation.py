"""The correlation id of the call being served, for every log line written while serving it.

`api/pipeline.py` sets it around each RPC (from the `x-request-id`
metadata, or a new one); `CorrelationIdFilter` copies it into each log record,
so any logger used during the call (error mapping, audit, storage) carries
the same id without passing it around. On the wire and in log lines it keeps
its established names (`x-request-id`, `request_id`); in the code it is the
correlation id, never to be confused with the AIP-155 `request_id` field that
makes a write idempotent (domain/request_ids.py).
"""

from __future__ import annotations

import contextvars
import logging
import random
import re

CORRELATION_HEADER = "x-request-id"  # the wire name clients already send
# What a client-supplied id may look like: short, printable, no spaces or quotes.
_ACCEPTABLE = re.compile(r"[A-Za-z0-9._:/=+@-]{1,128}")

_current: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)
_random = random.Random()


def set_correlation_id(request_id: str | None) -> contextvars.Token[str | None]:
    return _current.set(request_id)


def reset_correlation_id(token: contextvars.Token[str | None]) -> None:
    try:
        _current.reset(token)
    except ValueError:  # reset from another context (a stream closed by another thread)
        _current.set(None)


def new_correlation_id() -> str:
    # 32 hex digits, like uuid4().hex. Not os.urandom: a syscall on the event loop hands the GIL
    # to another thread, and the loop then waits a switch interval to get it back. A correlation
    # id needs to be unique, not unpredictable.
    return f"{_random.getrandbits(128):032x}"


def accept_correlation_id(candidate: str | None) -> str | None:
    """The client's id if it is acceptable as is, else None (the caller makes a new one)."""
    if candidate and _ACCEPTABLE.fullmatch(candidate):
        return candidate
    return None


class CorrelationIdFilter(logging.Filter):
    """Adds `request_id` to records written while a request is being served."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            request_id = _current.get()
            if request_id is not None:
                record.request_id = request_id
        return True
