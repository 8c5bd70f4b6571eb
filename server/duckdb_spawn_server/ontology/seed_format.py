"""The seed ontology format, normalised into the internal schema model.

    {"name": "projects", "description": "...", "version": "optional",
     "columns": [{"name": "total_amount", "type": "DECIMAL(20,2)",
                  "description": "...", "required": true,
                  "enum": [...], "minimum": 0, "maximum": "1e9",
                  "pattern": "^[A-Z]{3}$", "max_length": 3, "default": "USD",
                  "role": "id" | "create_time" | "update_time"}]}

Every key but `name` and `type` is optional. Without `role`, the well-known
names in `domain.schema.WELL_KNOWN_ROLES` mark server-managed columns when
their type fits. A `pattern` is RE2 syntax and must match the whole value
(domain/patterns.py); one RE2 cannot run (a backreference, lookaround) is a
problem like any other. Any problem rejects the whole document (`InvalidSchema`).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any

from ..domain.patterns import InvalidPattern, compile_pattern
from ..domain.schema import (
    MAX_COLUMNS,
    MAX_ENUM_VALUES,
    MAX_PATTERN_LENGTH,
    WELL_KNOWN_ROLES,
    Column,
    ColumnRole,
    InvalidSchema,
    TableSchema,
    is_identifier,
)
from ..domain.types import ColumnType, InvalidType, TypeKind, parse_type
from ..domain.validation import compile_checks
from ..domain.values import ValueProblem, coercer_for, is_decimal_text

# Another format's pattern as written -> the model's form (RE2, full match); InvalidPattern if impossible.
PatternTranslator = Callable[[str], str]

_ROLE_TYPES = {
    ColumnRole.ID: (TypeKind.UUID,),
    ColumnRole.CREATE_TIME: (TypeKind.DATE, TypeKind.TIMESTAMP),
    ColumnRole.UPDATE_TIME: (TypeKind.DATE, TypeKind.TIMESTAMP),
}
MAX_DESCRIPTION = 4096


def parse_seed_schema(schema_id: str, document: Any) -> TableSchema:
    """Normalises a seed-format document, or raises InvalidSchema listing every problem."""
    problems: list[str] = []
    if not isinstance(document, dict):
        raise InvalidSchema(["schema document must be a JSON object"])
    table_name = document.get("name")
    if not is_identifier(table_name):
        problems.append("'name' must be a table name matching ^[a-z][a-z0-9_]{0,62}$")
    raw_columns = document.get("columns")
    if not isinstance(raw_columns, list) or not raw_columns:
        problems.append("'columns' must be a non-empty list")
        raw_columns = []
    elif len(raw_columns) > MAX_COLUMNS:
        problems.append(f"at most {MAX_COLUMNS} columns")
        raw_columns = []
    columns = []
    for index, raw in enumerate(raw_columns):
        column = parse_column(raw, f"columns[{index}]", problems)
        if column is not None:
            columns.append(column)
    version = document.get("version")
    if version is not None and not valid_version(version):
        problems.append("'version' must be a short string of letters, digits and ._:+-")
    if problems:
        raise InvalidSchema(problems)
    return TableSchema(
        schema_id=schema_id,
        table_name=table_name,
        columns=tuple(columns),
        description=_text(document.get("description")),
        declared_version=version,
        source_format="seed",
    )


def valid_version(version: Any) -> bool:
    """A declared schema version: short, and safe to show and store."""
    return isinstance(version, str) and re.fullmatch(r"[A-Za-z0-9._:+-]{1,64}", version) is not None


def parse_column(raw: Any, where: str, problems: list[str], *,
                 translate_pattern: PatternTranslator | None = None) -> Column | None:
    """One column, seed-format keys; appends problems and returns None when invalid.

    `translate_pattern` turns another format's `pattern` (as its author wrote
    it, which is what the length limit applies to) into the model's form.
    """
    if not isinstance(raw, dict):
        problems.append(f"{where} must be an object")
        return None
    name = raw.get("name")
    if not is_identifier(name):
        problems.append(f"{where}.name must match ^[a-z][a-z0-9_]{{0,62}}$")
        return None
    where = f"column {name!r}"
    try:
        ctype = parse_type(raw.get("type"))
    except InvalidType as error:
        problems.append(f"{where}: {error}")
        return None
    before = len(problems)
    required = raw.get("required", False)
    if not isinstance(required, bool):
        problems.append(f"{where}: 'required' must be a boolean")
    role = _role(raw, name, ctype, where, problems)
    coerce = coercer_for(ctype)
    enum = _enum(raw.get("enum"), coerce, where, problems)
    minimum = _bound(raw.get("minimum"), "minimum", ctype, where, problems)
    maximum = _bound(raw.get("maximum"), "maximum", ctype, where, problems)
    if minimum is not None and maximum is not None and minimum > maximum:
        problems.append(f"{where}: minimum is greater than maximum")
    pattern = _pattern(raw.get("pattern"), ctype, where, problems, translate_pattern)
    max_length = raw.get("max_length")
    if max_length is not None and (isinstance(max_length, bool) or not isinstance(max_length, int)
                                   or not 1 <= max_length <= 1_048_576):
        problems.append(f"{where}: 'max_length' must be an integer from 1 to 1048576")
        max_length = None
    if len(problems) > before:
        return None
    column = Column(
        name=name, type=ctype, required=bool(required), description=_text(raw.get("description")),
        role=role, enum=enum, minimum=minimum, maximum=maximum, pattern=pattern, max_length=max_length,
    )
    default = _default(raw.get("default"), column, where, problems)
    if default is None:
        return column if len(problems) == before else None
    return Column(**{**column.__dict__, "default": default})


def _role(raw: dict, name: str, ctype: ColumnType, where: str, problems: list[str]) -> ColumnRole:
    explicit = raw.get("role")
    if explicit is None:
        role = WELL_KNOWN_ROLES.get(name, ColumnRole.DATA)
        return role if role is ColumnRole.DATA or ctype.kind in _ROLE_TYPES[role] else ColumnRole.DATA
    try:
        role = ColumnRole(explicit)
    except ValueError:
        problems.append(f"{where}: 'role' must be one of id, create_time, update_time, data")
        return ColumnRole.DATA
    if role is not ColumnRole.DATA and ctype.kind not in _ROLE_TYPES[role]:
        problems.append(f"{where}: role {role.value} does not fit type {ctype.sql}")
    return role


def _enum(raw: Any, coerce: Any, where: str, problems: list[str]) -> tuple[Any, ...] | None:
    if raw is None:
        return None
    if not isinstance(raw, list) or not raw or len(raw) > MAX_ENUM_VALUES:
        problems.append(f"{where}: 'enum' must be a list of 1 to {MAX_ENUM_VALUES} values")
        return None
    values = []
    for item in raw:
        try:
            values.append(coerce(item))
        except ValueProblem as problem:
            problems.append(f"{where}: enum value {str(item)[:40]!r}: {problem.description}")
            return None
    return tuple(dict.fromkeys(values))


def _bound(raw: Any, key: str, ctype: ColumnType, where: str, problems: list[str]) -> Decimal | None:
    if raw is None:
        return None
    if ctype.kind not in (TypeKind.INTEGER, TypeKind.DECIMAL, TypeKind.FLOAT):
        problems.append(f"{where}: '{key}' applies only to numeric types, not {ctype.sql}")
        return None
    if isinstance(raw, bool) or not isinstance(raw, (int, float, str)) or (
            isinstance(raw, str) and not is_decimal_text(raw)):  # ASCII digits: Decimal() takes "١٢٣" too
        problems.append(f"{where}: '{key}' must be a number")
        return None
    try:
        value = Decimal(repr(raw) if isinstance(raw, float) else str(raw))
    except InvalidOperation:
        problems.append(f"{where}: '{key}' must be a number")
        return None
    if not value.is_finite():
        problems.append(f"{where}: '{key}' must be finite")
        return None
    return value


def _pattern(raw: Any, ctype: ColumnType, where: str, problems: list[str],
             translate: PatternTranslator | None) -> str | None:
    if raw is None:
        return None
    if ctype.kind is not TypeKind.STRING:
        problems.append(f"{where}: 'pattern' applies only to string types")
        return None
    if not isinstance(raw, str) or not 1 <= len(raw) <= MAX_PATTERN_LENGTH:
        problems.append(f"{where}: 'pattern' must be a string of 1 to {MAX_PATTERN_LENGTH} characters")
        return None
    try:
        pattern = translate(raw) if translate is not None else raw
        compile_pattern(pattern)  # refused here, at load, rather than failing or hanging at match time
    except InvalidPattern as error:
        problems.append(f"{where}: 'pattern' is refused: {error}")
        return None
    return pattern


def _default(raw: Any, column: Column, where: str, problems: list[str]) -> Any:
    if raw is None:
        return None
    if column.system_managed:
        problems.append(f"{where}: server-managed columns take no default")
        return None
    try:
        value = coercer_for(column.type)(raw)
        for check in compile_checks(column):
            check(value)
    except ValueProblem as problem:
        problems.append(f"{where}: default {str(raw)[:40]!r}: {problem.description}")
        return None
    return value


def _text(value: Any) -> str:
    return value[:MAX_DESCRIPTION] if isinstance(value, str) else ""
