"""Typed values: JSON-ish attribute values in, exact Python values out, and back.

Attributes travel as `google.protobuf.Struct`, whose numbers are doubles. So
DECIMAL values arrive as strings (or as numbers that fit the scale exactly),
integers beyond 2^53 as strings, dates and timestamps as ISO-8601 strings.
Inside the service every value is exact: `Decimal`, `int`, `date`,
`datetime` (naive, UTC), `uuid.UUID`, `str`, `bool`, `float`.

`coercer_for(type)` returns a specialised function, built once per schema
version, so no per-request interpretation of the type happens.
"""

from __future__ import annotations

import math
import re
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Context, Decimal, InvalidOperation
from typing import Any

from .names import parse_uuid
from .types import ColumnType, TypeKind

MAX_SAFE_INTEGER = 2**53
# Wide enough for DECIMAL(38, s) arithmetic without silent rounding.
_DECIMAL_CONTEXT = Context(prec=80)


class ValueProblem(ValueError):
    """A value that does not fit its column; `reason` is an UPPER_SNAKE_CASE code."""

    def __init__(self, reason: str, description: str) -> None:
        super().__init__(description)
        self.reason = reason
        self.description = description


Coercer = Callable[[Any], Any]

# Digits are ASCII [0-9] everywhere: Python's `\d`, int(), Decimal() and fromisoformat() also take
# Arabic-Indic, Devanagari, full-width ... digits, so "١٢٣" would be stored as 123. Each pattern is
# applied with fullmatch: `$` would also match before a final newline.
_DATE_RE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
# RFC 3339 / ISO 8601: date, 'T' or space, time, optional fraction, optional offset.
_TIMESTAMP_RE = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?([Zz]|[+-][0-9]{2}:[0-9]{2})?"
)
_FRACTION_RE = re.compile(r"\.([0-9]+)")
_INTEGER_TEXT_RE = re.compile(r"[+-]?[0-9]{1,40}")
_DECIMAL_TEXT_RE = re.compile(r"[+-]?([0-9]{1,40}(\.[0-9]{0,40})?|\.[0-9]{1,40})([eE][+-]?[0-9]{1,3})?")


def is_decimal_text(text: str) -> bool:
    """A decimal number in plain ASCII notation (what Decimal() may then parse): `-12.5`, `.5`, `1e9`."""
    return _DECIMAL_TEXT_RE.fullmatch(text) is not None


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    return "list or object"


def _mismatch(expected: str, value: Any) -> ValueProblem:
    return ValueProblem("TYPE_MISMATCH", f"expected {expected}, got {_type_name(value)}")


def coercer_for(ctype: ColumnType) -> Coercer:
    """Returns a function that turns an attribute value into its exact typed form."""
    kind = ctype.kind
    if kind is TypeKind.STRING:
        return _string_coercer(ctype)
    if kind is TypeKind.INTEGER:
        return _integer_coercer(ctype)
    if kind is TypeKind.DECIMAL:
        return _decimal_coercer(ctype)
    if kind is TypeKind.FLOAT:
        return _float
    if kind is TypeKind.BOOLEAN:
        return _boolean
    if kind is TypeKind.DATE:
        return _date
    if kind is TypeKind.TIMESTAMP:
        return _timestamp
    if kind is TypeKind.UUID:
        return _uuid
    raise AssertionError(f"unhandled kind {kind}")


def _string_coercer(ctype: ColumnType) -> Coercer:
    length = ctype.length

    def coerce(value: Any) -> str:
        if not isinstance(value, str):
            raise _mismatch("a string", value)
        if "\x00" in value:
            raise ValueProblem("INVALID_CHARACTER", "NUL characters are not allowed")
        if length is not None and len(value) > length:
            raise ValueProblem("TOO_LONG", f"at most {length} characters for {ctype.sql}, got {len(value)}")
        return value

    return coerce


def _integer_coercer(ctype: ColumnType) -> Coercer:
    low, high = ctype.integer_range or (-(2**63), 2**63 - 1)

    def coerce(value: Any) -> int:
        if isinstance(value, bool):
            raise _mismatch("an integer", value)
        if isinstance(value, Decimal) and value == value.to_integral_value():
            value = int(value)
        if isinstance(value, float):
            if not value.is_integer():
                raise ValueProblem("TYPE_MISMATCH", "expected an integer, got a fraction")
            if abs(value) > MAX_SAFE_INTEGER:
                raise ValueProblem("PRECISION_LOSS", "integers beyond 2^53 must be sent as strings")
            result = int(value)
        elif isinstance(value, int):
            result = value
        elif isinstance(value, str):
            if not _INTEGER_TEXT_RE.fullmatch(value):
                raise ValueProblem("TYPE_MISMATCH", "expected an integer, got a non-integer string")
            result = int(value)
        else:
            raise _mismatch("an integer", value)
        if not low <= result <= high:
            raise ValueProblem("OUT_OF_RANGE", f"{ctype.sql} holds {low} to {high}")
        return result

    return coerce


def _decimal_coercer(ctype: ColumnType) -> Coercer:
    precision, scale = ctype.precision or 18, ctype.scale or 0
    max_integer_digits = precision - scale
    quantum = Decimal(1).scaleb(-scale)

    def coerce(value: Any) -> Decimal:
        if isinstance(value, bool):
            raise _mismatch("a decimal string or number", value)
        if isinstance(value, Decimal):  # already typed (stored rows, defaults)
            if not value.is_finite():
                raise ValueProblem("TYPE_MISMATCH", "expected a finite number")
            number = value
        elif isinstance(value, str):
            text = value.strip()
            if not _DECIMAL_TEXT_RE.fullmatch(text):
                raise ValueProblem("TYPE_MISMATCH", "expected a decimal number as a string")
            number = Decimal(text)
        elif isinstance(value, int):
            number = Decimal(value)
        elif isinstance(value, float):
            if not math.isfinite(value):
                raise ValueProblem("TYPE_MISMATCH", "expected a finite number")
            # repr gives the shortest string that round-trips the double.
            number = Decimal(repr(value))
        else:
            raise _mismatch("a decimal string or number", value)
        try:
            quantized = number.quantize(quantum, context=_DECIMAL_CONTEXT)
        except InvalidOperation:
            raise ValueProblem("OUT_OF_RANGE", f"value does not fit {ctype.sql}") from None
        if quantized != number:  # never round silently
            hint = " (send it as a string)" if isinstance(value, float) else ""
            raise ValueProblem(
                "PRECISION_EXCEEDED", f"{ctype.sql} keeps {scale} decimal places; the value has more{hint}")
        # A negative zero ("-0", "-0.00", "-0e5", -0.0) is zero: stored and shown as 0.00, never -0.00.
        number = quantized.copy_abs() if quantized.is_zero() else quantized
        integer_digits = len(number.as_tuple().digits) - scale
        if number != 0 and integer_digits > max_integer_digits:
            raise ValueProblem(
                "OUT_OF_RANGE", f"{ctype.sql} holds at most {max_integer_digits} digits before the point")
        return number

    return coerce


def _float(value: Any) -> float:
    if isinstance(value, Decimal):
        value = float(value)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _mismatch("a number", value)
    result = float(value)
    if not math.isfinite(result):
        raise ValueProblem("TYPE_MISMATCH", "expected a finite number")
    # -0.0 compares, filters and sums as 0.0 but would come back as -0 in responses and exports:
    # like a DECIMAL's -0, it is stored as zero. (-0.0 + 0.0 is +0.0; every other value is unchanged.)
    return result + 0.0


def _boolean(value: Any) -> bool:
    if not isinstance(value, bool):
        raise _mismatch("a boolean", value)
    return value


def _date(value: Any) -> date:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if not isinstance(value, str):
        raise _mismatch("a date string YYYY-MM-DD", value)
    if not _DATE_RE.fullmatch(value):
        raise ValueProblem("INVALID_FORMAT", "expected a date as YYYY-MM-DD")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ValueProblem("INVALID_FORMAT", "not a valid calendar date") from None


def _timestamp(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo is None else value.astimezone(UTC).replace(tzinfo=None)
    if not isinstance(value, str):
        raise _mismatch("an RFC 3339 timestamp string", value)
    if not _TIMESTAMP_RE.fullmatch(value):
        raise ValueProblem("INVALID_FORMAT", "expected an RFC 3339 timestamp such as 2026-01-31T12:00:00Z")
    text = value.replace("z", "Z").replace("t", "T")
    fraction = _FRACTION_RE.search(text)
    if fraction and len(fraction.group(1)) > 6:  # Python keeps microseconds: truncate, don't fail
        text = text.replace(fraction.group(0), "." + fraction.group(1)[:6])
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise ValueProblem("INVALID_FORMAT", "not a valid timestamp") from None
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(UTC).replace(tzinfo=None)
    return parsed


def _uuid(value: Any) -> uuid.UUID:
    if isinstance(value, uuid.UUID):
        return value
    if not isinstance(value, str):
        raise _mismatch("a UUID string", value)
    parsed = parse_uuid(value)  # the canonical form only: uuid.UUID() also takes non-ASCII digits
    if parsed is None:
        raise ValueProblem("INVALID_FORMAT", "expected a UUID such as 123e4567-e89b-12d3-a456-426614174000")
    return parsed


def to_json_value(value: Any) -> Any:
    """The Struct-safe form of a typed value (exact: decimals and big ints as strings)."""
    convert = _JSON_BY_TYPE.get(type(value))  # exact types first: every response converts every value
    return convert(value) if convert is not None else _to_json_slow(value)


def _int_to_json(value: int) -> Any:
    return float(value) if abs(value) <= MAX_SAFE_INTEGER else str(value)


def _float_to_json(value: float) -> Any:
    return value if math.isfinite(value) else str(value)


def _decimal_to_json(value: Decimal) -> str:
    return format(value, "f")


def _to_json_slow(value: Any) -> Any:
    """Subclasses (and anything else) by isinstance, most specific first."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        return _int_to_json(value)
    if isinstance(value, float):
        return _float_to_json(value)
    if isinstance(value, Decimal):
        return _decimal_to_json(value)
    if isinstance(value, datetime):
        return format_timestamp(value)
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _identity(value: Any) -> Any:
    return value


def to_text(value: Any) -> str:
    """A typed value as the text a client would send for it (defaults, enum values in listings)."""
    shown = to_json_value(value)
    if isinstance(shown, bool):
        return "true" if shown else "false"
    if isinstance(shown, float) and shown.is_integer():
        return str(int(shown))
    return str(shown)


def format_timestamp(value: datetime) -> str:
    """RFC 3339 in UTC with a `Z`, microseconds only when non-zero."""
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value.isoformat(timespec="microseconds" if value.microsecond else "seconds") + "Z"


_JSON_BY_TYPE: dict[type, Callable[[Any], Any]] = {
    type(None): _identity, bool: _identity, str: _identity, int: _int_to_json, float: _float_to_json,
    Decimal: _decimal_to_json, datetime: format_timestamp, date: date.isoformat, uuid.UUID: str,
}
