"""google.protobuf.Duration's own rules, for Duration fields of requests.

Protobuf decodes any pair of int64 seconds and int32 nanos, so a client can
send `nanos: 1999999999` or `seconds: 1, nanos: -1`, which duration.proto
says are not Durations; `ToNanoseconds()` would read them as 1.999999999 s
and 0.999999999 s without complaint. They are refused instead, naming the
field. The transport hands over the two numbers; nothing here knows protobuf.
"""

from __future__ import annotations

from .errors import FieldViolation, InvalidArgument

# duration.proto: "Range is approximately +-10,000 years" (60 * 60 * 24 * 365.25 * 10000 seconds).
MAX_SECONDS = 315_576_000_000
MAX_NANOS = 999_999_999


def duration_seconds(seconds: int, nanos: int, field: str) -> float:
    """A Duration's length in seconds, or INVALID_ARGUMENT (INVALID_DURATION) naming `field`."""
    if not -MAX_SECONDS <= seconds <= MAX_SECONDS:
        problem = f"seconds must be from -{MAX_SECONDS:,} to {MAX_SECONDS:,}, got {seconds:,}"
    elif not -MAX_NANOS <= nanos <= MAX_NANOS:
        problem = f"nanos must be from -{MAX_NANOS:,} to {MAX_NANOS:,}, got {nanos:,}"
    elif (seconds > 0 > nanos) or (seconds < 0 < nanos):
        problem = f"seconds ({seconds:,}) and nanos ({nanos:,}) must have the same sign"
    else:
        return seconds + nanos / 1e9
    description = f"is not a valid google.protobuf.Duration: {problem}"
    raise InvalidArgument(f"{field} {description}", violations=[FieldViolation(field, description, "INVALID_DURATION")],
                          reason="INVALID_DURATION", metadata={"field": field})
