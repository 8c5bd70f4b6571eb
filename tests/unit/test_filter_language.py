"""The filter language's grammar and type checks, without a server."""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal

import duckdb
import pytest
from duckdb_spawn_server.domain.errors import InvalidArgument
from duckdb_spawn_server.domain.fields import FieldCatalog
from duckdb_spawn_server.domain.filter_syntax import AllOf, AnyOf, Negation, Restriction, parse_filter_syntax
from duckdb_spawn_server.domain.filters import And, Compare, IsNull, Match, Not, Op, Or, compile_filter
from duckdb_spawn_server.domain.ordering import decode_position, encode_position, parse_order_by
from duckdb_spawn_server.ontology.mock import mock_schema
from duckdb_spawn_server.storage.query_sql import after_sql, where_sql, wildcard_regex

CATALOG = FieldCatalog(mock_schema("project_schema"))  # type: ignore[arg-type]


def shape(node: object) -> object:
    """A compact picture of a syntax tree: restrictions become their field names."""
    if isinstance(node, Restriction):
        return node.path
    if isinstance(node, AllOf):
        return ("AND", *(shape(c) for c in node.children))
    if isinstance(node, AnyOf):
        return ("OR", *(shape(c) for c in node.children))
    if isinstance(node, Negation):
        return ("NOT", shape(node.child))
    raise AssertionError(node)


@pytest.mark.parametrize(("text", "expected"), [
    ("a = 1 OR b = 2 AND c = 3", ("AND", ("OR", "a", "b"), "c")),
    ("a = 1 AND b = 2 OR c = 3", ("AND", "a", ("OR", "b", "c"))),
    ("a = 1 b = 2 OR c = 3", ("AND", "a", ("OR", "b", "c"))),
    ("NOT a = 1 OR b = 2", ("OR", ("NOT", "a"), "b")),
    ("-a = 1 AND -(b = 2 OR c = 3)", ("AND", ("NOT", "a"), ("NOT", ("OR", "b", "c")))),
    ("(a = 1 AND b = 2) OR c = 3", ("OR", ("AND", "a", "b"), "c")),
    ("x.y = -5", "x.y"),
])
def test_precedence_follows_aip_160(text: str, expected: object) -> None:
    assert shape(parse_filter_syntax(text)) == expected


def test_literals_are_typed_by_their_field() -> None:
    tree = compile_filter('total_amount >= 12.50 AND maturity_years < 3 AND create_time > 2026-01-31T13:00:00+01:00 '
                          'AND description = "Solar*" AND NOT description:* OR status = null', CATALOG)
    assert isinstance(tree, And)
    amount, years, created, pattern, either = tree.children
    assert amount == Compare(CATALOG.resolve("total_amount"), Op.GE, Decimal("12.50"))  # type: ignore[arg-type]
    assert isinstance(years, Compare) and years.value == 3 and isinstance(years.value, int)
    assert isinstance(created, Compare) and created.value == datetime(2026, 1, 31, 12, 0)
    assert isinstance(pattern, Match) and pattern.parts == ("Solar", "")
    assert isinstance(either, Or)
    assert isinstance(either.children[0], Not) and isinstance(either.children[1], IsNull)


def test_sql_binds_every_value_and_escapes_wildcard_patterns() -> None:
    tree = compile_filter('project_name = "50%_off.(x)*" AND total_amount != 5', CATALOG)
    fragment = where_sql(tree)
    assert fragment.params == ["(?s)50%_off\\.\\(x\\).*", 5]
    assert "50" not in fragment.sql and "?" in fragment.sql
    assert wildcard_regex(["a\\b", ""]) == "(?s)a\\\\b.*"


@pytest.mark.parametrize("parts", [("", "a", "b", ""), ("x.y", ""), ("", "[*]", "$^"), ("a\nb",), ("(", "|", ")")])
def test_wildcard_patterns_match_in_duckdb_exactly_as_literals_joined_by_anything(parts: tuple[str, ...]) -> None:
    """RE2 in DuckDB agrees with Python's own reading of the pattern on every candidate value."""
    con = duckdb.connect()
    literal = re.compile("".join(re.escape(p) if i == 0 else ".*" + re.escape(p) for i, p in enumerate(parts)),
                         re.DOTALL)
    values = ["", "ab", "a\nb", "xay", "x.y", "xzy", "[*]$^", "(|)", "a.b.c", "ba", "x.y.z", "(a|b)"]
    pattern = wildcard_regex(parts)
    for value in values:
        found = con.execute("SELECT regexp_full_match(?, ?)", [value, pattern]).fetchone()[0]
        assert found == (literal.fullmatch(value) is not None), (parts, value)


def test_keyset_positions_round_trip_with_exact_types() -> None:
    ordering = parse_order_by("total_amount desc, description", CATALOG)
    assert [k.field.name for k in ordering.keys] == ["total_amount", "description", "project_id"]
    assert [k.descending for k in ordering.keys] == [True, False, False]
    values = (Decimal("123456789012345678.99"), None, "3f2b8c1e-4d5a-4e6f-8a7b-9c0d1e2f3a4b")
    decoded = decode_position(ordering, encode_position(values))
    assert decoded[0] == Decimal("123456789012345678.99") and decoded[1] is None
    fragment = after_sql(ordering, decoded)
    # descending amount: strictly below; then equal amount with description past NULL: nothing (NULL is last)
    assert fragment.sql.count("OR") >= 1 and fragment.params[0] == Decimal("123456789012345678.99")


@pytest.mark.parametrize("text", ["a =", "(a = 1", "a = 1)", "a = 'x", "a ~ 1", "AND", "a = 1 OR", "NOT"])
def test_syntax_errors_are_invalid_argument(text: str) -> None:
    with pytest.raises(InvalidArgument) as caught:
        parse_filter_syntax(text)
    assert caught.value.violations[0].field == "filter"
    assert "position" in caught.value.metadata
