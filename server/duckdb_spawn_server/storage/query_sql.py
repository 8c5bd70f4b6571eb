"""Typed filters and orderings (domain/filters.py, domain/ordering.py) as SQL.

Every identifier comes from the validated schema and is quoted; every value
is a bound parameter. Each comparison is written so that it is never NULL
(`x IS NOT NULL AND x = ?`, `x IS NULL OR x <> ?`), which gives the
two-valued logic the filter language documents, also under NOT.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ..domain.fields import CREATE_TIME as CREATE_TIME_FIELD
from ..domain.fields import UPDATE_TIME as UPDATE_TIME_FIELD
from ..domain.fields import FieldRef
from ..domain.filters import And, Compare, Filter, IsNull, Match, Not, Op, Or
from ..domain.ordering import Ordering
from .ddl import CREATE_TIME, UPDATE_TIME
from .sql import quote_identifier

_BOOKKEEPING = {CREATE_TIME_FIELD: CREATE_TIME, UPDATE_TIME_FIELD: UPDATE_TIME}
_SQL_OPS = {Op.EQ: "=", Op.NE: "<>", Op.LT: "<", Op.LE: "<=", Op.GT: ">", Op.GE: ">="}


@dataclass
class SqlFragment:
    """SQL text with `?` placeholders and the values to bind, in order."""

    sql: str = "TRUE"
    params: list[Any] = field(default_factory=list)


def field_sql(ref: FieldRef) -> str:
    """The quoted column holding a field."""
    if ref.column is not None:
        return quote_identifier(ref.column.name)
    return quote_identifier(_BOOKKEEPING[ref.name])


def bind(value: Any) -> Any:
    return str(value) if isinstance(value, uuid.UUID) else value


def where_sql(node: Filter | None) -> SqlFragment:
    fragment = SqlFragment()
    if node is not None:
        fragment.sql = _render(node, fragment.params)
    return fragment


def _render(node: Filter, params: list[Any]) -> str:
    if isinstance(node, And):
        return "(" + " AND ".join(_render(c, params) for c in node.children) + ")"
    if isinstance(node, Or):
        return "(" + " OR ".join(_render(c, params) for c in node.children) + ")"
    if isinstance(node, Not):
        return f"(NOT {_render(node.child, params)})"
    column = field_sql(node.field)
    if isinstance(node, IsNull):
        return f"({column} IS {'NOT ' if node.negate else ''}NULL)"
    if isinstance(node, Match):
        params.append(wildcard_regex(node.parts))
        if node.negate:
            return f"({column} IS NULL OR NOT regexp_full_match({column}, ?))"
        return f"({column} IS NOT NULL AND regexp_full_match({column}, ?))"
    assert isinstance(node, Compare)
    params.append(bind(node.value))
    if node.op is Op.NE:
        return f"({column} IS NULL OR {column} <> ?)"
    return f"({column} IS NOT NULL AND {column} {_SQL_OPS[node.op]} ?)"


_RE2_SPECIAL = frozenset("\\.+*?()|[]{}^$")


def wildcard_regex(parts: Sequence[str]) -> str:
    """Literal pieces joined by "anything", as an RE2 pattern for DuckDB's `regexp_full_match`.

    Not LIKE: DuckDB's LIKE matcher backtracks, so a few `*` in a filter ran
    for seconds at full CPU; RE2 matches in time linear in the value.
    `(?s)` lets a wildcard span line breaks, as `*` always did.
    """
    escaped = ["".join("\\" + ch if ch in _RE2_SPECIAL else ch for ch in part) for part in parts]
    return "(?s)" + ".*".join(escaped)


def order_sql(ordering: Ordering) -> str:
    """NULL sorts as the largest value: last ascending, first descending."""
    return ", ".join(f"{field_sql(k.field)} {'DESC NULLS FIRST' if k.descending else 'ASC NULLS LAST'}"
                     for k in ordering.keys)


def after_sql(ordering: Ordering, position: Sequence[Any]) -> SqlFragment:
    """Rows strictly after `position` (the last row's key values) in `ordering`.

    The usual lexicographic expansion: for some key i, all earlier keys are
    equal and key i is past the position. With NULL as the largest value,
    "past" for an ascending key is `x > v OR x IS NULL` (nothing is past
    NULL); for a descending key it is `x < v` (past NULL is any value).
    """
    branches: list[str] = []
    params: list[Any] = []
    equal: list[str] = []
    equal_params: list[Any] = []
    for key, value in zip(ordering.keys, position, strict=True):
        column = field_sql(key.field)
        past, past_params = _past(column, key.descending, value)
        if past is not None:
            branches.append("(" + " AND ".join([*equal, past]) + ")")
            params += equal_params + past_params
        if value is None:
            equal.append(f"{column} IS NULL")
        else:
            equal.append(f"{column} = ?")
            equal_params.append(bind(value))
    return SqlFragment("(" + " OR ".join(branches) + ")" if branches else "FALSE", params)


def _past(column: str, descending: bool, value: Any) -> tuple[str | None, list[Any]]:
    if descending:
        if value is None:
            return f"{column} IS NOT NULL", []
        return f"{column} < ?", [bind(value)]
    if value is None:
        return None, []
    return f"({column} > ? OR {column} IS NULL)", [bind(value)]
