"""Filters checked against a schema: the typed tree storage turns into SQL.

`compile_filter(text, catalog)` parses (domain/filter_syntax.py), resolves
every field, and turns every literal into an exact typed value of its
field's type, so storage only binds values. Semantics, documented in the
README and pinned by tests that compute expected results in Python:

* Comparisons with a missing (null) value are false, except `!=`, which is
  true: `description != "x"` matches projects without a description.
  `NOT` negates that two-valued result.
* `f = null` / `f != null` test for absence; `f:*` means `f` is present.
* On text fields `=`/`!=` with an unescaped `*` in a string match a
  wildcard pattern; `f:"x"` means "contains x". On other fields `:` is `=`.
* Enum fields only accept their enum values (a typo is an error, not an
  empty result). Booleans and UUIDs support `=` and `!=` only.
* Numbers compare exactly (decimals are never rounded). Timestamps take
  RFC 3339 (`2026-01-31T12:00:00Z`, offsets converted to UTC) or a date
  (midnight UTC); dates take `YYYY-MM-DD`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from enum import Enum
from typing import Any

from .fields import FieldCatalog, FieldRef, printable
from .filter_syntax import (
    AllOf,
    AnyOf,
    Literal,
    LiteralKind,
    Negation,
    Node,
    Restriction,
    filter_error,
    parse_filter_syntax,
)
from .filter_tokens import NUMBER_RE
from .types import ColumnType, TypeKind
from .values import ValueProblem, coercer_for

# Literals beyond this many significant digits cannot be compared exactly in DuckDB.
MAX_NUMBER_DIGITS = 38


class Op(Enum):
    EQ = "="
    NE = "!="
    LT = "<"
    LE = "<="
    GT = ">"
    GE = ">="


@dataclass(frozen=True)
class Compare:
    """`field op value`; value is typed (Decimal, int, float, str, bool, date, datetime, UUID)."""

    field: FieldRef
    op: Op
    value: Any


@dataclass(frozen=True)
class Match:
    """A text field matches a wildcard pattern: literal `parts` joined by "anything"."""

    field: FieldRef
    parts: tuple[str, ...]
    negate: bool = False


@dataclass(frozen=True)
class IsNull:
    field: FieldRef
    negate: bool = False  # True: IS NOT NULL


@dataclass(frozen=True)
class And:
    children: tuple[Filter, ...]


@dataclass(frozen=True)
class Or:
    children: tuple[Filter, ...]


@dataclass(frozen=True)
class Not:
    child: Filter


Filter = Compare | Match | IsNull | And | Or | Not

_OPS = {op.value: op for op in Op}
_EQUALITY_ONLY = (TypeKind.BOOLEAN, TypeKind.UUID)
_DATE = ColumnType(name="DATE", kind=TypeKind.DATE)


def compile_filter(text: str, catalog: FieldCatalog, field_name: str = "filter") -> Filter | None:
    """The typed filter for `text` (None when empty), or INVALID_ARGUMENT naming the position."""
    tree = parse_filter_syntax(text, field_name)
    if tree is None:
        return None
    return _Checker(catalog, field_name).check(tree)


class _Checker:
    def __init__(self, catalog: FieldCatalog, field_name: str) -> None:
        self.catalog = catalog
        self.field_name = field_name

    def error(self, position: int, description: str, reason: str) -> Exception:
        return filter_error(position, description, reason, self.field_name)

    def check(self, node: Node) -> Filter:
        if isinstance(node, AllOf):
            return And(tuple(self.check(child) for child in node.children))
        if isinstance(node, AnyOf):
            return Or(tuple(self.check(child) for child in node.children))
        if isinstance(node, Negation):
            return Not(self.check(node.child))
        return self.restriction(node)

    def restriction(self, node: Restriction) -> Filter:
        field = self.catalog.resolve(node.path)
        if field is None:
            raise self.error(node.path_pos, f"unknown field {printable(node.path)!r}; fields are: "
                                            f"{self.catalog.listing()}", "UNKNOWN_FIELD")
        arg = node.arg
        if node.op == ":":
            return self.has(field, arg)
        op = _OPS[node.op]
        if arg.kind is LiteralKind.STAR:
            raise self.error(arg.pos, "'*' alone is only allowed after ':' (presence)", "TYPE_MISMATCH")
        if arg.kind is LiteralKind.NULL:
            if op not in (Op.EQ, Op.NE):
                raise self.error(node.op_pos, "null can only be compared with = or !=", "TYPE_MISMATCH")
            return IsNull(field, negate=op is Op.NE)
        if field.kind in _EQUALITY_ONLY and op not in (Op.EQ, Op.NE):
            raise self.error(node.op_pos, f"{field.name} is {field.type.sql}: only = and != apply",
                             "TYPE_MISMATCH")
        if arg.parts is not None and field.kind is TypeKind.STRING and op in (Op.EQ, Op.NE):
            return Match(field, arg.parts, negate=op is Op.NE)
        value = self.value(field, arg, check_enum=True)
        return Compare(field, op, value)

    def has(self, field: FieldRef, arg: Literal) -> Filter:
        if arg.kind is LiteralKind.STAR:
            return IsNull(field, negate=True)
        if arg.kind is LiteralKind.NULL:
            raise self.error(arg.pos, "use 'field = null' to test for absence", "TYPE_MISMATCH")
        if field.kind is TypeKind.STRING:
            text = self.text(field, arg)
            parts = arg.parts if arg.parts is not None else (text,)
            return Match(field, ("", *parts, ""))
        return Compare(field, Op.EQ, self.value(field, arg, check_enum=True))

    # -- literals -------------------------------------------------------------------
    def text(self, field: FieldRef, arg: Literal) -> str:
        if arg.kind not in (LiteralKind.STRING, LiteralKind.WORD):
            raise self.mismatch(field, arg)
        return arg.text

    def mismatch(self, field: FieldRef, arg: Literal, detail: str = "") -> Exception:
        expected = _EXPECTED.get(field.kind, field.type.sql)
        found = f"the {arg.kind.value} {printable(arg.text, 40)!r}" if arg.kind is not LiteralKind.STAR else "'*'"
        return self.error(arg.pos, f"{field.name} is {field.type.sql}: expected {expected}, found {found}"
                                   f"{detail}", "TYPE_MISMATCH")

    def value(self, field: FieldRef, arg: Literal, *, check_enum: bool) -> Any:
        kind = field.kind
        if kind is TypeKind.STRING:
            text = self.text(field, arg)
            if "\x00" in text:
                raise self.error(arg.pos, "NUL characters are not allowed", "INVALID_VALUE")
            if check_enum and field.enum is not None and text not in field.enum:
                shown = ", ".join(str(v) for v in field.enum[:20])
                raise self.error(arg.pos, f"{printable(text, 40)!r} is not a value of {field.name} "
                                          f"(one of: {shown})", "NOT_IN_ENUM")
            return text
        if kind in (TypeKind.INTEGER, TypeKind.DECIMAL, TypeKind.FLOAT):
            return self.number(field, arg)
        if kind is TypeKind.BOOLEAN:
            if arg.kind is not LiteralKind.BOOL:
                raise self.mismatch(field, arg)
            return arg.text == "true"
        if kind is TypeKind.DATE:
            if arg.kind not in (LiteralKind.DATE, LiteralKind.STRING):
                raise self.mismatch(field, arg)
            return self.coerce_as(TypeKind.DATE, field, arg)
        if kind is TypeKind.TIMESTAMP:
            if arg.kind is LiteralKind.DATE or (arg.kind is LiteralKind.STRING and len(arg.text) == 10):
                day = self.coerce_as(TypeKind.DATE, field, arg)
                return datetime(day.year, day.month, day.day)
            if arg.kind not in (LiteralKind.TIMESTAMP, LiteralKind.STRING):
                raise self.mismatch(field, arg)
            return self.coerce_as(TypeKind.TIMESTAMP, field, arg)
        if kind is TypeKind.UUID:
            if arg.kind not in (LiteralKind.STRING, LiteralKind.WORD):
                raise self.mismatch(field, arg)
            return self.coerce_as(TypeKind.UUID, field, arg)
        raise self.mismatch(field, arg)  # pragma: no cover - every kind is handled above

    def number(self, field: FieldRef, arg: Literal) -> Any:
        if arg.kind not in (LiteralKind.NUMBER, LiteralKind.STRING):
            raise self.mismatch(field, arg)
        text = arg.text.strip()
        if not NUMBER_RE.fullmatch(text):  # a quoted "١٢٣" or "1_000" is no number (Decimal() takes both)
            raise self.mismatch(field, arg)
        try:
            number = Decimal(text)
        except InvalidOperation:
            raise self.mismatch(field, arg) from None
        if not number.is_finite():
            raise self.mismatch(field, arg)
        if field.kind is TypeKind.FLOAT:
            result = float(number)
            if result in (float("inf"), float("-inf")):
                raise self.error(arg.pos, "number out of range", "OUT_OF_RANGE")
            return result
        _, digits, exponent = number.as_tuple()
        assert isinstance(exponent, int)
        width = max(len(digits), len(digits) + exponent, -exponent)
        if width > MAX_NUMBER_DIGITS:
            raise self.error(arg.pos, f"numbers have at most {MAX_NUMBER_DIGITS} digits", "OUT_OF_RANGE")
        if number == number.to_integral_value():
            return int(number)
        return number

    def coerce_as(self, kind: TypeKind, field: FieldRef, arg: Literal) -> Any:
        coerce = coercer_for(field.type if field.kind is kind else _DATE)
        try:
            return coerce(arg.text)
        except ValueProblem as problem:
            raise self.mismatch(field, arg, f" ({problem.description})") from None


_EXPECTED = {
    TypeKind.STRING: "a quoted string",
    TypeKind.INTEGER: "a number",
    TypeKind.DECIMAL: "a number",
    TypeKind.FLOAT: "a number",
    TypeKind.BOOLEAN: "true or false",
    TypeKind.DATE: "a date such as 2026-01-31",
    TypeKind.TIMESTAMP: "an RFC 3339 timestamp such as 2026-01-31T12:00:00Z",
    TypeKind.UUID: "a UUID",
}


def walk(node: Filter) -> list[Filter]:
    """Every node of a filter, depth first (tests and diagnostics)."""
    if isinstance(node, (And, Or)):
        return [node, *(n for child in node.children for n in walk(child))]
    if isinstance(node, Not):
        return [node, *walk(node.child)]
    return [node]
