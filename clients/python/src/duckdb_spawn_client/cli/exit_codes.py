"""Exit codes scripts can rely on: 0 for success, one code per class of error.

| code | meaning |
|---|---|
| 0 | success |
| 1 | unexpected failure (INTERNAL, UNKNOWN, DATA_LOSS, CANCELLED, or a bug in the CLI) |
| 2 | usage error: bad options or arguments, unreadable local file |
| 3 | invalid input: INVALID_ARGUMENT or OUT_OF_RANGE, or an import that rejected rows |
| 4 | NOT_FOUND |
| 5 | ALREADY_EXISTS |
| 6 | ABORTED: a concurrent change or a stale etag; re-read and retry |
| 7 | FAILED_PRECONDITION |
| 8 | UNAUTHENTICATED: no token, or a wrong one |
| 9 | PERMISSION_DENIED: the token's role may not do this |
| 10 | RESOURCE_EXHAUSTED: a limit or rate limit |
| 11 | UNAVAILABLE: the server could not be reached or was not ready (after retries) |
| 12 | DEADLINE_EXCEEDED |
| 13 | UNIMPLEMENTED: the server does not offer this method |
| 14 | `health`: the service is UNHEALTHY or not ready |
"""

from __future__ import annotations

import grpc

OK = 0
ERROR = 1
USAGE = 2
INVALID_INPUT = 3
NOT_FOUND = 4
ALREADY_EXISTS = 5
ABORTED = 6
FAILED_PRECONDITION = 7
UNAUTHENTICATED = 8
PERMISSION_DENIED = 9
RESOURCE_EXHAUSTED = 10
UNAVAILABLE = 11
DEADLINE_EXCEEDED = 12
UNIMPLEMENTED = 13
UNHEALTHY = 14

_BY_STATUS = {
    grpc.StatusCode.INVALID_ARGUMENT: INVALID_INPUT,
    grpc.StatusCode.OUT_OF_RANGE: INVALID_INPUT,
    grpc.StatusCode.NOT_FOUND: NOT_FOUND,
    grpc.StatusCode.ALREADY_EXISTS: ALREADY_EXISTS,
    grpc.StatusCode.ABORTED: ABORTED,
    grpc.StatusCode.FAILED_PRECONDITION: FAILED_PRECONDITION,
    grpc.StatusCode.UNAUTHENTICATED: UNAUTHENTICATED,
    grpc.StatusCode.PERMISSION_DENIED: PERMISSION_DENIED,
    grpc.StatusCode.RESOURCE_EXHAUSTED: RESOURCE_EXHAUSTED,
    grpc.StatusCode.UNAVAILABLE: UNAVAILABLE,
    grpc.StatusCode.DEADLINE_EXCEEDED: DEADLINE_EXCEEDED,
    grpc.StatusCode.UNIMPLEMENTED: UNIMPLEMENTED,
}


def for_status(code: grpc.StatusCode) -> int:
    return _BY_STATUS.get(code, ERROR)
