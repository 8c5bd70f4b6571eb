import uuid
from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest
from duckdb_spawn_server.domain.types import parse_type
from duckdb_spawn_server.domain.values import ValueProblem, coercer_for, to_json_value


def coerce(type_text: str, value: object) -> object:
    return coercer_for(parse_type(type_text))(value)


def problem(type_text: str, value: object) -> str:
    with pytest.raises(ValueProblem) as caught:
        coerce(type_text, value)
    return caught.value.reason


def test_decimals_are_exact_from_strings_and_fitting_numbers() -> None:
    assert coerce("DECIMAL(20,2)", "1250000.50") == Decimal("1250000.50")
    assert coerce("DECIMAL(20,2)", "12.3") == Decimal("12.30")
    assert coerce("DECIMAL(20,2)", 1.35) == Decimal("1.35")
    assert coerce("DECIMAL(20,2)", 7) == Decimal("7.00")
    assert coerce("DECIMAL(38,2)", "123456789012345678901234567890123456.78") == Decimal(
        "123456789012345678901234567890123456.78")
    assert coerce("DECIMAL(5,2)", "-999.99") == Decimal("-999.99")
    assert coerce("DECIMAL(5,2)", "1.500") == Decimal("1.50")  # trailing zeros lose nothing


def test_decimals_never_round_or_overflow_silently() -> None:
    assert problem("DECIMAL(5,2)", "1000.00") == "OUT_OF_RANGE"
    assert problem("DECIMAL(5,2)", "1.234") == "PRECISION_EXCEEDED"
    assert problem("DECIMAL(5,2)", 0.1 + 0.2) == "PRECISION_EXCEEDED"
    assert problem("DECIMAL(5,2)", "abc") == "TYPE_MISMATCH"
    assert problem("DECIMAL(5,2)", "NaN") == "TYPE_MISMATCH"
    assert problem("DECIMAL(5,2)", True) == "TYPE_MISMATCH"
    assert problem("DECIMAL(20,2)", "1e400") == "OUT_OF_RANGE"


def test_integers_have_ranges_and_big_ones_travel_as_strings() -> None:
    assert coerce("INTEGER", 15.0) == 15
    assert coerce("BIGINT", "9007199254740993") == 9007199254740993
    assert problem("BIGINT", 9007199254740993.0 * 4) == "PRECISION_LOSS"
    assert problem("INTEGER", 2**31) == "OUT_OF_RANGE"
    assert problem("INTEGER", 10.5) == "TYPE_MISMATCH"
    assert problem("TINYINT", "128") == "OUT_OF_RANGE"
    assert problem("INTEGER", "12a") == "TYPE_MISMATCH"
    assert problem("INTEGER", False) == "TYPE_MISMATCH"


def test_strings_dates_timestamps_uuids() -> None:
    assert coerce("CHAR(3)", "EUR") == "EUR"
    assert problem("CHAR(3)", "EURO") == "TOO_LONG"
    assert problem("VARCHAR", 5.0) == "TYPE_MISMATCH"
    assert problem("VARCHAR", "a\x00b") == "INVALID_CHARACTER"
    assert coerce("DATE", "2026-02-28") == date(2026, 2, 28)
    assert problem("DATE", "2026-02-30") == "INVALID_FORMAT"
    assert problem("DATE", "20260228") == "INVALID_FORMAT"
    assert coerce("TIMESTAMP", "2026-01-31T12:00:00+02:00") == datetime(2026, 1, 31, 10, 0, 0)
    assert coerce("TIMESTAMP", "2026-01-31T12:00:00.123456789Z") == datetime(2026, 1, 31, 12, 0, 0, 123456)
    assert problem("TIMESTAMP", "yesterday") == "INVALID_FORMAT"
    pid = uuid.uuid4()
    assert coerce("UUID", str(pid).upper()) == pid
    assert problem("UUID", "not-a-uuid") == "INVALID_FORMAT"
    assert coerce("BOOLEAN", True) is True
    assert problem("BOOLEAN", "true") == "TYPE_MISMATCH"


def test_output_values_are_exact_and_struct_safe() -> None:
    assert to_json_value(Decimal("1.50")) == "1.50"
    assert to_json_value(15) == 15.0
    assert to_json_value(2**60) == str(2**60)
    assert to_json_value(date(2026, 1, 2)) == "2026-01-02"
    assert to_json_value(datetime(2026, 1, 2, 3, 4, 5)) == "2026-01-02T03:04:05Z"
    assert to_json_value(datetime(2026, 1, 2, 3, 4, 5, 600)) == "2026-01-02T03:04:05.000600Z"


def test_output_values_of_every_kind_including_subclasses() -> None:
    import enum
    from datetime import timezone

    class Level(enum.IntEnum):
        HIGH = 3

    class Stamp(datetime):
        pass

    assert to_json_value(None) is None
    assert to_json_value(True) is True  # a bool stays a bool, not the number 1
    assert to_json_value("x") == "x"
    assert to_json_value(1.5) == 1.5
    assert to_json_value(float("inf")) == "inf"
    assert to_json_value(-(2**60)) == str(-(2**60))
    assert to_json_value(Level.HIGH) == 3.0
    assert to_json_value(Stamp(2026, 1, 2, 3, 4, 5)) == "2026-01-02T03:04:05Z"
    assert to_json_value(datetime(2026, 1, 2, 4, 4, 5, tzinfo=timezone(timedelta(hours=1)))) == "2026-01-02T03:04:05Z"
    some_id = uuid.uuid4()
    assert to_json_value(some_id) == str(some_id)
