"""google.protobuf.Duration's rules on request fields (domain/durations.py)."""

from __future__ import annotations

import pytest
from duckdb_spawn_server.domain.durations import MAX_SECONDS, duration_seconds
from duckdb_spawn_server.domain.errors import InvalidArgument


@pytest.mark.parametrize(("seconds", "nanos", "expected"), [
    (0, 0, 0.0), (0, 500_000_000, 0.5), (0, 999_999_999, 0.999999999), (0, -999_999_999, -0.999999999),
    (1, 500_000_000, 1.5), (-1, -500_000_000, -1.5), (2, 0, 2.0), (-3, 0, -3.0),
    (MAX_SECONDS, 999_999_999, MAX_SECONDS + 0.999999999), (-MAX_SECONDS, -999_999_999, -MAX_SECONDS - 0.999999999),
])
def test_valid_durations_give_their_length(seconds: int, nanos: int, expected: float) -> None:
    assert duration_seconds(seconds, nanos, "cpu_interval") == pytest.approx(expected)


@pytest.mark.parametrize(("seconds", "nanos", "problem"), [
    (0, 1_999_999_999, "nanos must be from -999,999,999 to 999,999,999, got 1,999,999,999"),
    (0, 1_000_000_000, "nanos must be from"), (0, -1_000_000_000, "nanos must be from"),
    (1, -1, "seconds (1) and nanos (-1) must have the same sign"), (-1, 1, "must have the same sign"),
    (MAX_SECONDS + 1, 0, "seconds must be from -315,576,000,000 to 315,576,000,000"),
    (-MAX_SECONDS - 1, 0, "seconds must be from"), (2**63 - 1, 0, "seconds must be from"),
])
def test_invalid_durations_are_refused_naming_the_field(seconds: int, nanos: int, problem: str) -> None:
    with pytest.raises(InvalidArgument) as refused:
        duration_seconds(seconds, nanos, "cpu_interval")
    assert refused.value.reason == "INVALID_DURATION"
    [violation] = refused.value.violations
    assert (violation.field, violation.reason) == ("cpu_interval", "INVALID_DURATION")
    assert problem in violation.description and problem in refused.value.message
