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
(found anywhere in the value; `$` is the end of the value) and is stored in
the model's full-match form. `additionalProperties` must be false or absent:
the service never stores fields its schema does not define.

Each property is translated into a seed-format column and parsed by the
same code as the seed format, so both formats share every rule check.
"""

from __future__ import annotations

from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError

from ..domain.schema import InvalidSchema, TableSchema, is_identifier
from ..domain.types import InvalidType, TypeKind, parse_type
from .seed_format import parse_column, valid_version

DRAFT_2020_12 = "https://json-schema.org/draft/2020-12/schema"

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
        Draft202012Validator.check_schema(document)
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
        column = parse_column(seed_column, f"properties.{name[:64]}", problems)
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
                               ("maxLength", "max_length"), ("default", "default"), ("x-duckdb-role", "role")):
        if json_key in prop:
            column[seed_key] = prop[json_key]
    if "pattern" in prop:
        column["pattern"] = ecma_search_to_fullmatch(prop["pattern"])
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


def ecma_search_to_fullmatch(pattern: Any) -> Any:
    """A JSON Schema `pattern` (matches anywhere; `$` = end of value) as a full-match Python pattern.

    Python's `$` also matches before a final newline, so a bare `$` outside a
    character class becomes `\\Z`. Non-strings pass through for the seed
    parser to reject.
    """
    if not isinstance(pattern, str):
        return pattern
    out: list[str] = []
    index, in_class = 0, False
    while index < len(pattern):
        char = pattern[index]
        if char == "\\" and index + 1 < len(pattern):
            out.append(pattern[index:index + 2])
            index += 2
            continue
        if in_class:
            in_class = char != "]"
        elif char == "[":
            in_class = True
        elif char == "$":
            char = r"\Z"
        out.append(char)
        index += 1
    return f"(?s:.*?)(?:{''.join(out)})(?s:.*)"


def _text(value: Any) -> str:
    return value[:4096] if isinstance(value, str) else ""


__all__ = ["DRAFT_2020_12", "ecma_search_to_fullmatch", "is_json_schema_document", "parse_json_schema"]
