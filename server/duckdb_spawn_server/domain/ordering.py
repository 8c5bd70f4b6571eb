"""`order_by` (AIP-132): parsing, and the keyset positions page tokens carry.

`"total_amount desc, project_name"` orders by those fields; the project id
is always the final tiebreak (in the direction of the last key), so every
ordering is total and keyset pagination neither repeats nor skips rows.
Missing (null) values sort as if larger than any value: last in ascending
order, first in descending order. The default is `create_time desc`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from .errors import FieldViolation, InvalidArgument
from .fields import CREATE_TIME, UPDATE_TIME, FieldCatalog, FieldRef, printable
from .paging import invalid_page_token
from .values import ValueProblem, coercer_for, format_timestamp

MAX_ORDER_FIELDS = 8
MAX_ORDER_BY_LENGTH = 1024
DEFAULT_ORDER_BY = "create_time desc"
_ITEM = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_.]*)(?:\s+(asc|desc))?\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class SortKey:
    field: FieldRef
    descending: bool = False


@dataclass(frozen=True)
class Ordering:
    """The sort keys, ending with the id tiebreak."""

    keys: tuple[SortKey, ...]


def parse_order_by(text: str, catalog: FieldCatalog, field_name: str = "order_by") -> Ordering:
    if len(text) > MAX_ORDER_BY_LENGTH:
        raise _invalid(field_name, f"at most {MAX_ORDER_BY_LENGTH} characters")
    source = text if text.strip() else DEFAULT_ORDER_BY
    items = source.split(",")
    if len(items) > MAX_ORDER_FIELDS:
        raise _invalid(field_name, f"at most {MAX_ORDER_FIELDS} fields")
    keys: list[SortKey] = []
    seen: set[str] = set()
    for index, item in enumerate(items):
        match = _ITEM.match(item)
        if match is None:
            raise _invalid(field_name, f"item {index + 1} must be 'field', 'field asc' or 'field desc'")
        field = catalog.resolve(match.group(1))
        if field is None:
            raise _invalid(field_name, f"unknown field {printable(match.group(1))!r}; fields are: "
                                       f"{catalog.listing()}", "UNKNOWN_FIELD")
        if field.name in seen:
            raise _invalid(field_name, f"{field.name} appears twice")
        seen.add(field.name)
        keys.append(SortKey(field, (match.group(2) or "asc").lower() == "desc"))
    id_field = catalog.id_field
    if keys[-1].field.name != id_field.name:
        if id_field.name in seen:
            raise _invalid(field_name, f"{id_field.name} is unique: it can only be the last field")
        keys.append(SortKey(id_field, keys[-1].descending))
    return Ordering(tuple(keys))


def key_values(ordering: Ordering, record: Any) -> tuple[Any, ...]:
    """The sort-key values of a ProjectRecord, typed."""
    values = []
    for key in ordering.keys:
        name = key.field.bookkeeping
        if name == CREATE_TIME:
            values.append(record.create_time)
        elif name == UPDATE_TIME:
            values.append(record.update_time)
        else:
            values.append(record.attributes.get(key.field.name))
    return tuple(values)


def encode_position(values: Sequence[Any]) -> tuple[Any, ...]:
    """Typed key values -> JSON-able values (exact: decimals and times as text)."""
    return tuple(_encode(v) for v in values)


def decode_position(ordering: Ordering, position: Sequence[Any]) -> tuple[Any, ...]:
    """A page token's position -> typed values; a position that does not fit is an invalid token."""
    if len(position) != len(ordering.keys):
        raise invalid_page_token("page_token is not a token this service issued")
    values = []
    for key, raw in zip(ordering.keys, position, strict=True):
        if raw is None:
            values.append(None)
            continue
        try:
            values.append(coercer_for(key.field.type)(raw))
        except ValueProblem:
            raise invalid_page_token("page_token does not fit the current schema; start again without it") from None
    if values[-1] is None:
        raise invalid_page_token("page_token is not a token this service issued")
    return tuple(values)


def _encode(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime):
        return format_timestamp(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, UUID):
        return str(value)
    return str(value)


def _invalid(field_name: str, description: str, reason: str = "INVALID_ORDER_BY") -> InvalidArgument:
    return InvalidArgument(f"{field_name} is invalid: {description}",
                           violations=[FieldViolation(field_name, description, reason)], reason="INVALID_ORDER_BY")
