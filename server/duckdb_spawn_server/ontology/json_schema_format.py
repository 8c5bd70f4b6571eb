"""JSON Schema (draft 2020-12) documents, normalised into the internal schema model.

A hosted table is described by an object schema::

    {"$schema": "https://json-schema.org/draft/2020-12/schema",
     "x-duckdb-table": "projects",            # or "title", when it is a valid table name
     "x-duckdb-version": "2026.1",            # optional, like the seed's "version"
     "type": "object", "additionalProperties": false,
     "required": ["project_id", "total_amount"],
     "properties": {
       "project_id":   {"type": "string", "format": "uuid", "readOnly": true},
       "total_amount": {"type": ["string", "number"], "x-duckdb-type": "DECIMAL(20,2)", "minimum": 0},
       "currency_code": {"type": "string", "x-duckdb-type": "CHAR(3)", "pattern": "^[A-Z]{3}$",
                         "default": "USD"},
       "status": {"type": "string", "enum": ["PROPOSED", "ACTIVE"]}}}

Column types: `x-duckdb-type` gives any type of the allow-list grammar
(domain/types.py) -- this is how DECIMAL(p,s), CHAR(n), VARCHAR(n), INTEGER
and friends are said; it must agree with `type`. Without it: `string` is
VARCHAR, or UUID / DATE / TIMESTAMP with `format` uuid / date / date-time;
`integer` is BIGINT, `number` DOUBLE, `boolean` BOOLEAN. Column order is the
order of `properties`. `"null"` in a `type` list is accepted: as in the seed
format, null means "absent".

Supported keywords: `type`, `format`, `enum`, `minimum`, `maximum`,
`pattern`, `maxLength`, `default`, `description`, `title`, `readOnly`
(must agree with the column's role), `examples`, `deprecated`, `$comment`,
`x-duckdb-type`, `x-duckdb-role` (id / create_time / update_time / data).
Any other keyword is rejected rather than silently ignored, so a payload the
document forbids is never accepted. `pattern` keeps JSON Schema's meaning
(ECMA-262 syntax, found anywhere in the value; `$` is the end of the value)
and is stored in the model's form, RE2 and full match
(`ecma_search_to_fullmatch`); one RE2 cannot run rejects the document. `additionalProperties` must be false or absent:
the service never stores fields its schema does not define.

Each property is translated into a seed-format column and parsed by the
same code as the seed format, so both formats share every rule check.
"""

from __future__ import annotations

import re
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import SchemaError

from ..domain.patterns import InvalidPattern
from ..domain.schema import InvalidSchema, TableSchema, is_identifier
from ..domain.types import InvalidType, TypeKind, parse_type
from .seed_format import parse_column, valid_version

DRAFT_2020_12 = "https://json-schema.org/draft/2020-12/schema"

# The draft's format checks for the meta-schema, less "regex": jsonschema checks that one with
# Python's `re`, a different dialect from the RE2 patterns run in. Every `pattern` a document may
# carry is translated and compiled for RE2 by the column parser, which rejects the document if
# RE2 cannot run it.
_META_FORMATS = FormatChecker(())
_META_FORMATS.checkers = {name: check for name, check in Draft202012Validator.FORMAT_CHECKER.checkers.items()
                          if name != "regex"}

_TOP_LEVEL_KEYS = frozenset({
    "$schema", "$id", "$comment", "title", "description", "type", "properties", "required",
    "additionalProperties", "examples", "x-duckdb-table", "x-duckdb-version",
})
_PROPERTY_KEYS = frozenset({
    "type", "format", "enum", "minimum", "maximum", "pattern", "maxLength", "default", "description",
    "title", "readOnly", "examples", "deprecated", "$comment", "x-duckdb-type", "x-duckdb-role",
})
# The JSON types a value of each kind may arrive as (decimals and big integers as strings).
_JSON_TYPES_FOR_KIND: dict[TypeKind, frozenset[str]] = {
    TypeKind.STRING: frozenset({"string"}),
    TypeKind.INTEGER: frozenset({"integer", "string"}),
    TypeKind.DECIMAL: frozenset({"string", "number", "integer"}),
    TypeKind.FLOAT: frozenset({"number", "integer"}),
    TypeKind.BOOLEAN: frozenset({"boolean"}),
    TypeKind.DATE: frozenset({"string"}),
    TypeKind.TIMESTAMP: frozenset({"string"}),
    TypeKind.UUID: frozenset({"string"}),
}
_FORMAT_FOR_KIND = {TypeKind.UUID: "uuid", TypeKind.DATE: "date", TypeKind.TIMESTAMP: "date-time"}
_STRING_FORMATS = {"uuid": "UUID", "date": "DATE", "date-time": "TIMESTAMP"}
_PLAIN_TYPES = {"integer": "BIGINT", "number": "DOUBLE", "boolean": "BOOLEAN"}


def is_json_schema_document(document: Any) -> bool:
    return isinstance(document, dict) and "columns" not in document and (
        "$schema" in document or "properties" in document)


def parse_json_schema(schema_id: str, document: Any) -> TableSchema:
    """Normalises a JSON Schema document, or raises InvalidSchema listing every problem."""
    if not isinstance(document, dict):
        raise InvalidSchema(["schema document must be a JSON object"])
    declared = document.get("$schema", DRAFT_2020_12)
    if not isinstance(declared, str) or declared.rstrip("#") != DRAFT_2020_12:
        raise InvalidSchema([f"only JSON Schema draft 2020-12 ({DRAFT_2020_12}) is accepted"])
    try:
        Draft202012Validator.check_schema(document, format_checker=_META_FORMATS)
    except SchemaError as error:
        raise InvalidSchema([f"not a valid JSON Schema: {error.message[:200]}"]) from None
    problems = _unsupported(document, _TOP_LEVEL_KEYS, "the document")
    if document.get("type") != "object":
        problems.append("'type' must be \"object\"")
    if document.get("additionalProperties", False) is not False:
        problems.append("'additionalProperties' must be false or absent")
    table_name = document.get("x-duckdb-table", document.get("title"))
    if not is_identifier(table_name):
        problems.append("'x-duckdb-table' (or 'title') must be a table name matching ^[a-z][a-z0-9_]{0,62}$")
    properties = document.get("properties")
    if not isinstance(properties, dict) or not properties:
        problems.append("'properties' must be a non-empty object")
        properties = {}
    required = document.get("required", [])
    for name in required:
        if name not in properties:
            problems.append(f"required property {str(name)[:64]!r} is not defined in 'properties'")
    version = document.get("x-duckdb-version")
    if version is not None and not valid_version(version):
        problems.append("'x-duckdb-version' must be a short string of letters, digits and ._:+-")
    columns = []
    for name, prop in properties.items():
        seed_column = _as_seed_column(name, prop, name in required, problems)
        if seed_column is None:
            continue
        column = parse_column(seed_column, f"properties.{name[:64]}", problems,
                              translate_pattern=ecma_search_to_fullmatch)
        if column is None:
            continue
        if prop.get("readOnly", False) and not column.system_managed:
            problems.append(f"property {name!r}: readOnly columns must be server-managed "
                            "(id, create_time, update_time)")
        columns.append(column)
    if problems:
        raise InvalidSchema(problems)
    return TableSchema(schema_id=schema_id, table_name=table_name, columns=tuple(columns),
                       description=_text(document.get("description")), declared_version=version,
                       source_format="json-schema")


def _as_seed_column(name: str, prop: Any, required: bool, problems: list[str]) -> dict[str, Any] | None:
    where = f"property {name[:64]!r}"
    if not isinstance(prop, dict):
        problems.append(f"{where} must be an object schema")
        return None
    before = len(problems)
    problems.extend(_unsupported(prop, _PROPERTY_KEYS, where))
    type_text = _duckdb_type(prop, where, problems)
    column: dict[str, Any] = {"name": name, "type": type_text, "required": required,
                              "description": prop.get("description", prop.get("title"))}
    for json_key, seed_key in (("enum", "enum"), ("minimum", "minimum"), ("maximum", "maximum"),
                               ("maxLength", "max_length"), ("default", "default"), ("x-duckdb-role", "role"),
                               ("pattern", "pattern")):  # the pattern as written; parse_column translates it
        if json_key in prop:
            column[seed_key] = prop[json_key]
    return column if len(problems) == before else None


def _duckdb_type(prop: dict[str, Any], where: str, problems: list[str]) -> str | None:
    raw_types = prop.get("type")
    json_types = [raw_types] if isinstance(raw_types, str) else list(raw_types or [])
    json_types = [t for t in json_types if t != "null"]
    fmt = prop.get("format")
    explicit = prop.get("x-duckdb-type")
    if explicit is not None:
        try:
            ctype = parse_type(explicit)
        except InvalidType as error:
            problems.append(f"{where}: x-duckdb-type: {error}")
            return None
        allowed = _JSON_TYPES_FOR_KIND[ctype.kind]
        if not set(json_types) <= allowed:
            problems.append(f"{where}: type {json_types} does not fit x-duckdb-type {ctype.sql} "
                            f"(use {sorted(allowed)})")
        if fmt is not None and fmt != _FORMAT_FOR_KIND.get(ctype.kind):
            problems.append(f"{where}: format {str(fmt)[:32]!r} does not fit x-duckdb-type {ctype.sql}")
        return ctype.sql
    if len(json_types) != 1:
        problems.append(f"{where}: give exactly one non-null 'type', or an 'x-duckdb-type'")
        return None
    json_type = json_types[0]
    if json_type == "string":
        if fmt is None:
            return "VARCHAR"
        if fmt in _STRING_FORMATS:
            return _STRING_FORMATS[fmt]
        problems.append(f"{where}: format {str(fmt)[:32]!r} is not supported (uuid, date, date-time)")
        return None
    if fmt is not None:
        problems.append(f"{where}: 'format' applies only to strings")
        return None
    if json_type in _PLAIN_TYPES:
        return _PLAIN_TYPES[json_type]
    problems.append(f"{where}: type {json_type!r} cannot be a column (no nested objects or arrays)")
    return None


def _unsupported(schema: dict[str, Any], allowed: frozenset[str], where: str) -> list[str]:
    return [f"{where}: keyword {key[:40]!r} is not supported" for key in schema
            if key not in allowed and not (key.startswith("x-") and not key.startswith("x-duckdb-"))]


def ecma_search_to_fullmatch(pattern: str) -> str:
    r"""A JSON Schema `pattern` (ECMA-262, found anywhere in the value) in the model's form: RE2, full match.

    RE2 reads most ECMA-262 syntax the same way: `\d`, `\w`, `\b` are ASCII in
    both, `^` and `$` are the start and end of the value (RE2's `$`, unlike
    Python's, never matches before a final newline). What differs is written
    out: `.` excludes every line terminator, `\s` is ECMA's Unicode white space,
    `\uHHHH`, `\cX` and `\0` name characters, `[]` and `[^]` match nothing and
    anything, a `[` inside a class is a literal. Escapes RE2 would read with
    another meaning (`\a`, `\A`, `\z`, `\Q` ...) and flags that would change
    `.`, `^` or `$` raise InvalidPattern; backreferences and lookaround reach
    RE2, which refuses them with its reason.
    """
    out: list[str] = []
    index, depth = 0, 0
    while index < len(pattern):
        char = pattern[index]
        if char == "\\":
            text, index = _escape(pattern, index, in_class=False)
            out.append(text)
            continue
        if char == "[":
            text, index = _character_class(pattern, index)
            out.append(text)
            continue
        if char == "(":
            _check_group(pattern, index)
            depth += 1
        elif char == ")":
            depth -= 1
            if depth < 0:  # RE2 would close the wrapper's group with it and read the rest differently
                raise InvalidPattern(f"unmatched ')' at position {index + 1}")
        elif char == ".":
            char = _ECMA_DOT
        out.append(char)
        index += 1
    if depth:
        raise InvalidPattern("missing ')'")
    return f"(?s:.*?)(?:{''.join(out)})(?s:.*)"


# ECMA-262's `\s` (WhiteSpace and LineTerminator) as class contents; RE2's `\s` is only [\t\n\f\r ].
_ECMA_SPACE = r"\t-\r \x{a0}\x{1680}\x{2000}-\x{200a}\x{2028}\x{2029}\x{202f}\x{205f}\x{3000}\x{feff}"
# Its complement over every code point, for `\S` inside a class (RE2 has no class subtraction).
_ECMA_NOT_SPACE = (r"\x{0}-\x{8}\x{e}-\x{1f}!-\x{9f}\x{a1}-\x{167f}\x{1681}-\x{1fff}\x{200b}-\x{2027}"
                   r"\x{202a}-\x{202e}\x{2030}-\x{205e}\x{2060}-\x{2fff}\x{3001}-\x{fefe}\x{ff00}-\x{10ffff}")
# ECMA-262's `.`: anything but a line terminator (RE2's `.` excludes only \n).
_ECMA_DOT = r"[^\n\r\x{2028}\x{2029}]"
_EVERY_CODE_POINT = r"\x{0}-\x{10ffff}"
_HEX = frozenset("0123456789abcdefABCDEF")
_ASCII_LETTERS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")


def _escape(pattern: str, index: int, *, in_class: bool) -> tuple[str, int]:
    """The escape starting at `pattern[index]` (a backslash) in RE2 syntax, and the index after it."""
    if index + 1 >= len(pattern):
        raise InvalidPattern("the pattern ends with a lone backslash")
    char, after = pattern[index + 1], index + 2
    if char in "dDwWfnrtv":
        return "\\" + char, after
    if char == "s":
        return (_ECMA_SPACE if in_class else f"[{_ECMA_SPACE}]"), after
    if char == "S":
        return (_ECMA_NOT_SPACE if in_class else f"[^{_ECMA_SPACE}]"), after
    if char in "bB":
        if not in_class:
            return "\\" + char, after
        if char == "b":
            return r"\x{8}", after  # in a class, ECMA's \b is a backspace
        raise InvalidPattern(r"'\B' cannot stand in a character class")
    if char == "0":
        # \0 is NUL; followed by digits it is a legacy octal escape, which RE2 reads the same way.
        return (r"\0" if pattern[after:after + 1].isascii() and pattern[after:after + 1].isdigit()
                else r"\x{0}"), after
    if char == "c":
        letter = pattern[after:after + 1]
        if letter and letter in _ASCII_LETTERS:
            return f"\\x{{{ord(letter) % 32:x}}}", after + 1
        raise InvalidPattern(r"'\c' must be followed by an ASCII letter")
    if char == "x":
        digits = pattern[after:after + 2]
        if len(digits) == 2 and set(digits) <= _HEX:
            return f"\\x{{{digits}}}", after + 2
        raise InvalidPattern(r"'\x' must be followed by two hex digits")
    if char == "u":
        return _unicode_escape(pattern, after)
    if char in "pP":  # Unicode property escapes: RE2 knows general categories and scripts, e.g. \p{L}
        return "\\" + char, after
    if char in "123456789k":  # backreferences: passed on for RE2 to refuse, with its reason
        return "\\" + char, after
    if char.isascii() and char.isalnum():
        raise InvalidPattern(f"'\\{char}' is not an ECMA-262 escape")
    return f"\\x{{{ord(char):x}}}", after  # an identity escape: the character itself


def _unicode_escape(pattern: str, after: int) -> tuple[str, int]:
    r"""`\uHHHH` (a surrogate pair as one code point) or `\u{H...}`, as RE2's `\x{...}`."""
    if pattern.startswith("{", after):
        end = pattern.find("}", after)
        digits = pattern[after + 1:end] if end > 0 else ""
        if not 1 <= len(digits) <= 6 or not set(digits) <= _HEX:
            raise InvalidPattern(r"'\u{' must be followed by 1 to 6 hex digits and '}'")
        code, after = int(digits, 16), end + 1
    else:
        code, after = _four_hex(pattern, after), after + 4
        if 0xD800 <= code <= 0xDBFF and pattern.startswith("\\u", after):
            try:
                low = _four_hex(pattern, after + 2)
            except InvalidPattern:
                low = 0
            if 0xDC00 <= low <= 0xDFFF:
                code, after = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00), after + 6
    if 0xD800 <= code <= 0xDFFF or code > 0x10FFFF:
        raise InvalidPattern(f"'\\u' names U+{code:04X}, which is not a character of UTF-8 text")
    return f"\\x{{{code:x}}}", after


def _four_hex(pattern: str, start: int) -> int:
    digits = pattern[start:start + 4]
    if len(digits) != 4 or not set(digits) <= _HEX:
        raise InvalidPattern(r"'\u' must be followed by four hex digits")
    return int(digits, 16)


def _character_class(pattern: str, index: int) -> tuple[str, int]:
    """The class starting at `pattern[index]` ('[') in RE2 syntax, and the index after it."""
    index += 1
    negated = pattern.startswith("^", index)
    if negated:
        index += 1
    if pattern.startswith("]", index):  # ECMA: [] matches nothing and [^] any character
        return (f"[{_EVERY_CODE_POINT}]" if negated else f"[^{_EVERY_CODE_POINT}]"), index + 1
    parts = ["[^" if negated else "["]
    while index < len(pattern):
        char = pattern[index]
        if char == "]":
            parts.append("]")
            return "".join(parts), index + 1
        if char == "\\":
            text, index = _escape(pattern, index, in_class=True)
            parts.append(text)
            continue
        parts.append(r"\[" if char == "[" else char)  # RE2 would read [:alpha:] as a POSIX class
        index += 1
    raise InvalidPattern("missing ']'")


# `(?:`, lookaround and named groups, and ES2025's `(?i:` / `(?-i:` modifiers. Other flags would
# change what `.`, `^` or `$` mean behind the translation's back.
_GROUP_START = re.compile(r"\(\?(?::|=|!|<|-?i:)")


def _check_group(pattern: str, index: int) -> None:
    if pattern.startswith("(?", index) and not _GROUP_START.match(pattern, index):
        raise InvalidPattern(f"'{pattern[index:index + 4]}' at position {index + 1} is not ECMA-262 syntax")


def _text(value: Any) -> str:
    return value[:4096] if isinstance(value, str) else ""


__all__ = ["DRAFT_2020_12", "ecma_search_to_fullmatch", "is_json_schema_document", "parse_json_schema"]
