"""Column types: an allow-list with a real grammar.

Ontology input is untrusted, so a type is never pasted into SQL as given: it
is parsed against the grammar below into a `ColumnType`, and only that
object's canonical rendering (`ColumnType.sql`) ever reaches DDL.

Grammar (case-insensitive, surrounding whitespace ignored)::

    type    := simple | sized | decimal
    simple  := BOOLEAN | BOOL | TINYINT | SMALLINT | INTEGER | INT | BIGINT
             | HUGEINT | UTINYINT | USMALLINT | UINTEGER | UBIGINT
             | REAL | FLOAT | DOUBLE | DATE | TIMESTAMP | UUID | TEXT
             | VARCHAR | STRING
    sized   := (VARCHAR | CHAR) "(" n ")"           1 <= n <= 1048576
    decimal := (DECIMAL | NUMERIC) [ "(" p [ "," s ] ")" ]   1 <= p <= 38, 0 <= s <= p
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum


class TypeKind(Enum):
    """The families validation and storage care about."""

    BOOLEAN = "BOOLEAN"
    INTEGER = "INTEGER"
    FLOAT = "FLOAT"
    DECIMAL = "DECIMAL"
    STRING = "STRING"
    DATE = "DATE"
    TIMESTAMP = "TIMESTAMP"
    UUID = "UUID"


class InvalidType(ValueError):
    """A type text outside the allow-list or grammar."""


# Canonical name -> (kind, integer range or None).
_INTEGER_RANGES: dict[str, tuple[int, int]] = {
    "TINYINT": (-(2**7), 2**7 - 1),
    "SMALLINT": (-(2**15), 2**15 - 1),
    "INTEGER": (-(2**31), 2**31 - 1),
    "BIGINT": (-(2**63), 2**63 - 1),
    "HUGEINT": (-(2**127), 2**127 - 1),
    "UTINYINT": (0, 2**8 - 1),
    "USMALLINT": (0, 2**16 - 1),
    "UINTEGER": (0, 2**32 - 1),
    "UBIGINT": (0, 2**64 - 1),
}

_ALIASES = {
    "BOOL": "BOOLEAN",
    "INT": "INTEGER",
    "INT4": "INTEGER",
    "INT8": "BIGINT",
    "INT2": "SMALLINT",
    "INT1": "TINYINT",
    "FLOAT": "REAL",
    "FLOAT4": "REAL",
    "FLOAT8": "DOUBLE",
    "TEXT": "VARCHAR",
    "STRING": "VARCHAR",
    "NUMERIC": "DECIMAL",
}

_SIMPLE_KINDS: dict[str, TypeKind] = {
    "BOOLEAN": TypeKind.BOOLEAN,
    "REAL": TypeKind.FLOAT,
    "DOUBLE": TypeKind.FLOAT,
    "DATE": TypeKind.DATE,
    "TIMESTAMP": TypeKind.TIMESTAMP,
    "UUID": TypeKind.UUID,
    "VARCHAR": TypeKind.STRING,
    **{name: TypeKind.INTEGER for name in _INTEGER_RANGES},
}

MAX_STRING_LENGTH = 1_048_576
MAX_DECIMAL_PRECISION = 38
# DuckDB's DECIMAL without arguments.
DEFAULT_DECIMAL = (18, 3)

# [0-9], not \d: Python's \d (and int()) would read "DECIMAL(٢٠,٢)" as DECIMAL(20,2).
_TYPE_RE = re.compile(
    r"^\s*(?P<name>[A-Za-z][A-Za-z0-9]*)\s*"
    r"(?:\(\s*(?P<a>[0-9]{1,7})\s*(?:,\s*(?P<b>[0-9]{1,2})\s*)?\))?\s*$"
)


@dataclass(frozen=True)
class ColumnType:
    """A validated column type. `sql` is its only rendering into DDL."""

    name: str  # canonical DuckDB name: VARCHAR, CHAR, DECIMAL, INTEGER, ...
    kind: TypeKind
    length: int | None = None  # VARCHAR(n) / CHAR(n)
    precision: int | None = None  # DECIMAL(p, s)
    scale: int | None = None

    @property
    def sql(self) -> str:
        if self.kind is TypeKind.DECIMAL:
            return f"DECIMAL({self.precision},{self.scale})"
        if self.length is not None:
            return f"{self.name}({self.length})"
        return self.name

    @property
    def integer_range(self) -> tuple[int, int] | None:
        return _INTEGER_RANGES.get(self.name)

    def __str__(self) -> str:
        return self.sql


def parse_type(text: object) -> ColumnType:
    """Parses a type name from the ontology, or raises InvalidType saying why."""
    if not isinstance(text, str) or len(text) > 64:
        raise InvalidType("type must be a string of at most 64 characters")
    match = _TYPE_RE.match(text)
    if match is None:
        raise InvalidType(f"type {text[:64]!r} does not match the type grammar")
    raw_name = match["name"].upper()
    name = _ALIASES.get(raw_name, raw_name)
    a, b = match["a"], match["b"]
    if name == "DECIMAL":
        return _decimal(a, b, text)
    if name in ("VARCHAR", "CHAR") and a is not None:
        if b is not None:
            raise InvalidType(f"{name} takes one length argument")
        length = int(a)
        if not 1 <= length <= MAX_STRING_LENGTH:
            raise InvalidType(f"{name} length must be between 1 and {MAX_STRING_LENGTH}")
        return ColumnType(name=name, kind=TypeKind.STRING, length=length)
    if a is not None:
        raise InvalidType(f"type {raw_name} takes no arguments")
    if name == "CHAR":
        return ColumnType(name="CHAR", kind=TypeKind.STRING, length=1)
    kind = _SIMPLE_KINDS.get(name)
    if kind is None:
        raise InvalidType(f"type {raw_name[:32]!r} is not in the allow-list")
    return ColumnType(name=name, kind=kind)


def _decimal(a: str | None, b: str | None, text: str) -> ColumnType:
    if a is None:
        precision, scale = DEFAULT_DECIMAL
    else:
        precision, scale = int(a), int(b) if b is not None else 0
    if not 1 <= precision <= MAX_DECIMAL_PRECISION:
        raise InvalidType(f"DECIMAL precision must be between 1 and {MAX_DECIMAL_PRECISION}")
    if not 0 <= scale <= precision:
        raise InvalidType("DECIMAL scale must be between 0 and the precision")
    return ColumnType(name="DECIMAL", kind=TypeKind.DECIMAL, precision=precision, scale=scale)
