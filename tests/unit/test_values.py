import math
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


# Arabic-Indic, Devanagari, full-width, Bengali: Python's \d, int(), Decimal() and fromisoformat() take them all.
FOREIGN_DIGITS = {"arabic-indic": "٠١٢٣٤٥٦٧٨٩", "devanagari": "०१२३४५६७८९", "full-width": "０１２３４５６７８９",
                  "bengali": "০১২৩৪৫৬৭৮৯"}


def ascii_to(script: str, text: str) -> str:
    return text.translate(str.maketrans("0123456789", FOREIGN_DIGITS[script]))


@pytest.mark.parametrize("script", list(FOREIGN_DIGITS))
@pytest.mark.parametrize(("type_text", "text"), [
    ("DECIMAL(20,2)", "123"), ("DECIMAL(20,2)", "-1.5"), ("DECIMAL(20,2)", "1e3"), ("INTEGER", "12"),
    ("BIGINT", "-9007199254740993"), ("HUGEINT", "170141183460469231731687303715884105727"),
    ("DATE", "2026-01-31"), ("TIMESTAMP", "2026-01-31T12:00:00Z"), ("TIMESTAMP", "2026-01-31 12:00:00.5+02:00"),
    ("UUID", "3f2b8c1e-4d5a-4e6f-8a7b-9c0d1e2f3a4b"),
])
def test_only_ascii_digits_are_digits(script: str, type_text: str, text: str) -> None:
    coerce(type_text, text)  # the ASCII spelling is fine
    assert problem(type_text, ascii_to(script, text)) in ("TYPE_MISMATCH", "INVALID_FORMAT")
    last = max(i for i, ch in enumerate(text) if ch.isdigit())  # one foreign digit among ASCII ones
    mixed = text[:last] + ascii_to(script, text[last]) + text[last + 1:]
    assert problem(type_text, mixed) in ("TYPE_MISMATCH", "INVALID_FORMAT")


@pytest.mark.parametrize(("type_text", "text"), [
    ("INTEGER", "12\n"), ("DATE", "2026-01-31\n"), ("TIMESTAMP", "2026-01-31T12:00:00Z\n"), ("INTEGER", "1_000"),
    ("DECIMAL(20,2)", "1_000"), ("UUID", "{3f2b8c1e-4d5a-4e6f-8a7b-9c0d1e2f3a4b}"),
    ("UUID", "urn:uuid:3f2b8c1e-4d5a-4e6f-8a7b-9c0d1e2f3a4b"), ("UUID", "3f2b8c1e4d5a4e6f8a7b9c0d1e2f3a4b"),
    ("UUID", "3f2b8c1e-4d5a-4e6f-8a7b-9c0d1e2f_a4b"),
])
def test_other_spellings_python_accepts_are_refused(type_text: str, text: str) -> None:
    assert problem(type_text, text) in ("TYPE_MISMATCH", "INVALID_FORMAT")


def test_a_uuid_in_either_case_is_the_same_uuid() -> None:
    text = "3f2b8c1e-4d5a-4e6f-8a7b-9c0d1e2f3a4b"
    assert coerce("UUID", text.upper()) == coerce("UUID", text) == uuid.UUID(text)


@pytest.mark.parametrize("value", ["-0", "-0.00", "-0.000", "-.0", "-0e5", "-0E-2", "+0", -0.0, 0,
                                   Decimal("-0.00")])
def test_a_negative_zero_decimal_is_stored_as_zero(value: object) -> None:
    stored = coerce("DECIMAL(20,2)", value)
    assert stored == 0 and not stored.is_signed() and str(stored) == "0.00"
    assert to_json_value(stored) == "0.00"


def test_a_negative_zero_double_is_stored_as_zero() -> None:
    for type_text in ("DOUBLE", "REAL"):
        stored = coerce(type_text, -0.0)
        assert stored == 0.0 and math.copysign(1.0, stored) == 1.0
    assert coerce("DOUBLE", -1.5) == -1.5 and coerce("DOUBLE", 5e-324) == 5e-324  # nothing else changes
