"""Attribute validation compiled from a schema.

`AttributeValidator(schema)` turns every column's rules into small closures
once, when a schema version comes into force; validating a request then runs
only those closures. Every violation is collected, so a client learns about
all of them in one round trip.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from .errors import FieldViolation, InvalidArgument
from .patterns import compile_pattern
from .schema import Column, TableSchema
from .types import TypeKind
from .values import Coercer, ValueProblem, coercer_for

Check = Callable[[Any], None]


@dataclass(frozen=True)
class CompiledColumn:
    name: str
    required: bool
    coerce: Coercer
    checks: tuple[Check, ...]
    default: Any

    def convert(self, value: Any) -> Any:
        typed = self.coerce(value)
        for check in self.checks:
            check(typed)
        return typed


def compile_checks(column: Column) -> tuple[Check, ...]:
    checks: list[Check] = []
    if column.enum is not None:
        allowed = frozenset(column.enum)
        listing = ", ".join(str(v) for v in column.enum[:20])

        def check_enum(value: Any) -> None:
            if value not in allowed:
                raise ValueProblem("NOT_IN_ENUM", f"must be one of: {listing}")

        checks.append(check_enum)
    numeric = column.type.kind in (TypeKind.INTEGER, TypeKind.DECIMAL, TypeKind.FLOAT)
    if numeric and column.minimum is not None:
        minimum = column.minimum

        def check_minimum(value: Any) -> None:
            if Decimal(value) < minimum:
                raise ValueProblem("OUT_OF_RANGE", f"must be at least {minimum}")

        checks.append(check_minimum)
    if numeric and column.maximum is not None:
        maximum = column.maximum

        def check_maximum(value: Any) -> None:
            if Decimal(value) > maximum:
                raise ValueProblem("OUT_OF_RANGE", f"must be at most {maximum}")

        checks.append(check_maximum)
    if column.max_length is not None:
        max_length = column.max_length

        def check_length(value: Any) -> None:
            if isinstance(value, str) and len(value) > max_length:
                raise ValueProblem("TOO_LONG", f"at most {max_length} characters, got {len(value)}")

        checks.append(check_length)
    if column.pattern is not None:
        regex = compile_pattern(column.pattern)  # RE2: linear time, whatever the ontology sent
        shown = column.pattern[:80]

        def check_pattern(value: Any) -> None:
            if isinstance(value, str) and regex.fullmatch(value) is None:
                raise ValueProblem("PATTERN_MISMATCH", f"must match {shown}")

        checks.append(check_pattern)
    return tuple(checks)


class AttributeValidator:
    """Validates attribute maps against one schema version."""

    def __init__(self, schema: TableSchema) -> None:
        self.schema = schema
        self._columns: dict[str, CompiledColumn] = {
            c.name: CompiledColumn(c.name, c.required, coercer_for(c.type), compile_checks(c), c.default)
            for c in schema.data_columns
        }
        # Server-managed ontology columns are output only: ignored on input (AIP-203).
        self._ignored = frozenset(c.name for c in schema.columns if c.system_managed)

    def validate_create(self, attributes: Mapping[str, Any], *, prefix: str = "attributes.") -> dict[str, Any]:
        """A complete row: every data column present (defaults applied), typed."""
        violations: list[FieldViolation] = []
        row = self._convert_given(attributes, prefix, violations)
        rejected = {v.field for v in violations}
        for name, column in self._columns.items():
            if prefix + name in rejected:
                continue
            if row.get(name) is None:
                if column.default is not None:
                    row[name] = column.default
                elif column.required:
                    violations.append(FieldViolation(prefix + name, "is required", "REQUIRED"))
                    row.setdefault(name, None)
                else:
                    row[name] = None
        _raise_if(violations)
        return row

    def is_known(self, name: str) -> bool:
        return name in self._columns

    def compiled(self, name: str) -> CompiledColumn | None:
        """The compiled rules of a client-writable column (bulk validation reuses them)."""
        return self._columns.get(name)

    def _convert_given(self, attributes: Mapping[str, Any], prefix: str,
                       violations: list[FieldViolation]) -> dict[str, Any]:
        row: dict[str, Any] = {}
        for name, value in attributes.items():
            column = self._columns.get(name)
            if column is None:
                if name not in self._ignored:
                    violations.append(FieldViolation(
                        prefix + _printable(name), "is not a field of schema " + self.schema.schema_id,
                        "UNKNOWN_FIELD"))
                continue
            if value is None:
                row[name] = None
                continue
            try:
                row[name] = column.convert(value)
            except ValueProblem as problem:
                violations.append(FieldViolation(prefix + name, problem.description, problem.reason))
        return row


def _raise_if(violations: list[FieldViolation]) -> None:
    if violations:
        violations.sort(key=lambda v: v.field)  # deterministic, whatever the map order
        count = len(violations)
        raise InvalidArgument(
            f"{count} attribute{'s' if count > 1 else ''} failed validation",
            violations=violations, reason="INVALID_ATTRIBUTES")


def _printable(name: str) -> str:
    """Field names echo client input: keep them short and free of control characters."""
    cleaned = "".join(ch if ch.isprintable() else "?" for ch in name[:64])
    return cleaned + ("…" if len(name) > 64 else "")
