"""Attribute values between Python and the wire.

On the wire (`google.protobuf.Struct`) decimals are exact strings, dates
`YYYY-MM-DD`, timestamps RFC 3339 in UTC, integers beyond 2^53 strings.
Encoding needs no schema: the Python type says what to send. Decoding does:
"12.50" may be a DECIMAL or a VARCHAR. The decoder takes the column types
from the server itself (the Arrow schema of an empty export, see
`Client.arrow_schema`), so `Decimal`, `date` and `datetime` come back as such
while text stays text.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pyarrow as pa

MAX_SAFE_INTEGER = 2**53


def encode_value(value: Any) -> Any:
    """A Python value -> its Struct-safe JSON form (exact for decimals and big integers)."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        return value if abs(value) <= MAX_SAFE_INTEGER else str(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime):
        return format_timestamp(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    raise TypeError(f"cannot send a {type(value).__name__} as an attribute value")


def encode_attributes(attributes: Mapping[str, Any]) -> dict[str, Any]:
    return {name: encode_value(value) for name, value in attributes.items()}


def format_timestamp(value: datetime) -> str:
    """RFC 3339 in UTC with `Z`; a naive datetime is taken to be UTC already."""
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value.isoformat(timespec="microseconds" if value.microsecond else "seconds") + "Z"


def parse_timestamp(text: str) -> datetime:
    moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


Decoder = Callable[[Any], Any]


def _integer(value: Any) -> int:
    return int(value) if not isinstance(value, str) else int(value.strip())


def _decimal(value: Any) -> Decimal:
    return Decimal(value) if isinstance(value, str) else Decimal(repr(value))


def _date(value: Any) -> date:
    return date.fromisoformat(value)


def _timestamp(value: Any) -> datetime:
    return parse_timestamp(value)


# Python types a caller may name in `Client(attribute_types=...)`.
_PY_DECODERS: dict[type, Decoder] = {
    Decimal: _decimal, int: _integer, float: float, date: _date, datetime: _timestamp, str: str, bool: bool,
    uuid.UUID: uuid.UUID,
}


def decoder_for_arrow(arrow_type: pa.DataType) -> Decoder | None:
    """How to decode a wire value of a column of this Arrow type (None: keep it as it is)."""
    if pa.types.is_decimal(arrow_type):
        return _decimal
    if pa.types.is_integer(arrow_type):
        return _integer
    if pa.types.is_floating(arrow_type):
        return float
    if pa.types.is_date(arrow_type):
        return _date
    if pa.types.is_timestamp(arrow_type):
        return _timestamp
    return None


_DUCKDB_INTEGERS = {"TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER",
                    "UBIGINT", "UHUGEINT", "INT", "INT4", "INT8", "LONG"}


def decoder_for_duckdb_type(type_text: str) -> Decoder | None:
    """How to decode a wire value of a DuckDB type such as `DECIMAL(38,2)` (None: keep it)."""
    base = type_text.split("(", 1)[0].strip().upper()
    if base in ("DECIMAL", "NUMERIC"):
        return _decimal
    if base in _DUCKDB_INTEGERS:
        return _integer
    if base in ("DOUBLE", "FLOAT", "REAL"):
        return float
    if base == "DATE":
        return _date
    if base.startswith("TIMESTAMP"):
        return _timestamp
    return None


class AttributeCodec:
    """Decodes attribute dicts by column; columns it does not know are returned as sent."""

    def __init__(self, decoders: Mapping[str, Decoder | None] | None = None) -> None:
        self._decoders: dict[str, Decoder | None] = dict(decoders or {})

    @classmethod
    def from_arrow_schema(cls, schema: pa.Schema, overrides: Mapping[str, type] | None = None) -> AttributeCodec:
        decoders = {f.name: decoder_for_arrow(f.type) for f in schema}
        decoders.update(python_decoders(overrides or {}))
        return cls(decoders)

    def knows(self, name: str) -> bool:
        return name in self._decoders

    def decode(self, attributes: Mapping[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for name, value in attributes.items():
            decoder = self._decoders.get(name)
            if value is None or decoder is None:
                result[name] = value
                continue
            try:
                result[name] = decoder(value)
            except (ValueError, ArithmeticError, TypeError):
                result[name] = value  # a value the type does not describe: leave it untouched
        return result


def python_decoders(types: Mapping[str, type]) -> dict[str, Decoder]:
    decoders = {}
    for name, kind in types.items():
        if kind not in _PY_DECODERS:
            raise TypeError(f"attribute_types[{name!r}]: unsupported type {kind!r}; "
                            f"use one of {sorted(t.__name__ for t in _PY_DECODERS)}")
        decoders[name] = _PY_DECODERS[kind]
    return decoders


def plain_value(value: Any) -> Any:
    """A decoded value -> something `json.dumps` takes (for printing)."""
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime):
        return format_timestamp(value)
    if isinstance(value, (date, uuid.UUID)):
        return str(value)
    if isinstance(value, dict):
        return {k: plain_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain_value(v) for v in value]
    return value
