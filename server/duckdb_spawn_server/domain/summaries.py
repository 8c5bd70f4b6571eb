"""SummarizeProjects: group-by aggregates, checked against the schema before any SQL exists.

A `SummaryPlan` names typed fields only; storage renders it. Rules:

* `COUNT` takes any field (non-null values) or none (rows).
* `SUM` and `AVG` take numeric fields (integers, decimals, floats); sums of
  decimals are exact (DECIMAL(38, scale)), averages are DOUBLE.
* `MIN`, `MAX` and `PERCENTILE` (continuous, `percentile` in [0, 1]) take
  numeric, date and timestamp fields.
* Up to `MAX_GROUP_BY` group-by fields, `MAX_AGGREGATIONS` aggregates and
  `MAX_SUMMARY_ROWS` result rows (more groups is RESOURCE_EXHAUSTED: group
  by fewer fields or filter).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any

from .errors import FieldViolation, InvalidArgument
from .fields import FieldCatalog, FieldRef, printable
from .filters import Filter, compile_filter
from .types import TypeKind

MAX_GROUP_BY = 8
MAX_AGGREGATIONS = 32
MAX_SUMMARY_ROWS = 10_000
_ALIAS = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
_NUMERIC = (TypeKind.INTEGER, TypeKind.DECIMAL, TypeKind.FLOAT)
_ORDERED = (*_NUMERIC, TypeKind.DATE, TypeKind.TIMESTAMP)


class AggregateFunction(Enum):
    COUNT = "count"
    SUM = "sum"
    AVG = "avg"
    MIN = "min"
    MAX = "max"
    PERCENTILE = "percentile"


_ACCEPTS: dict[AggregateFunction, tuple[TypeKind, ...]] = {
    AggregateFunction.COUNT: tuple(TypeKind),
    AggregateFunction.SUM: _NUMERIC,
    AggregateFunction.AVG: _NUMERIC,
    AggregateFunction.MIN: _ORDERED,
    AggregateFunction.MAX: _ORDERED,
    AggregateFunction.PERCENTILE: _ORDERED,
}


@dataclass(frozen=True)
class AggregationSpec:
    """An aggregation as requested; `function` None means unspecified."""

    function: AggregateFunction | None
    field: str = ""
    percentile: float = 0.0
    alias: str = ""


@dataclass(frozen=True)
class Aggregate:
    function: AggregateFunction
    field: FieldRef | None
    alias: str
    percentile: float | None = None


@dataclass(frozen=True)
class SummaryPlan:
    filter: Filter | None
    group_by: tuple[FieldRef, ...]
    aggregates: tuple[Aggregate, ...]


@dataclass(frozen=True)
class SummaryColumn:
    name: str
    type: str  # the DuckDB type of the result column, e.g. DECIMAL(38,2)


@dataclass(frozen=True)
class Summary:
    columns: list[SummaryColumn]
    rows: list[tuple[Any, ...]]  # typed values, one per column


def plan_summary(catalog: FieldCatalog, filter_text: str, group_by: Sequence[str],
                 aggregations: Sequence[AggregationSpec]) -> SummaryPlan:
    """The checked plan, or INVALID_ARGUMENT listing every problem."""
    violations: list[FieldViolation] = []
    groups = _group_by(catalog, group_by, violations)
    indexed = _aggregates(catalog, aggregations, violations)
    aggregates = [aggregate for _, aggregate in indexed]
    names = [g.name for g in groups] + [a.alias for a in aggregates]
    for index, aggregate in indexed:
        if names.count(aggregate.alias) > 1:
            violations.append(FieldViolation(f"aggregations[{index}].alias",
                                             f"column name {aggregate.alias!r} is used twice; set distinct aliases",
                                             "DUPLICATE_NAME"))
    if violations:
        raise InvalidArgument("the summary request is invalid", violations=violations, reason="INVALID_SUMMARY")
    return SummaryPlan(compile_filter(filter_text, catalog), tuple(groups), tuple(aggregates))


def _group_by(catalog: FieldCatalog, group_by: Sequence[str], violations: list[FieldViolation]) -> list[FieldRef]:
    if len(group_by) > MAX_GROUP_BY:
        violations.append(FieldViolation("group_by", f"at most {MAX_GROUP_BY} fields", "TOO_MANY_FIELDS"))
        return []
    groups: list[FieldRef] = []
    for index, name in enumerate(group_by):
        field = catalog.resolve(name)
        if field is None:
            violations.append(FieldViolation(f"group_by[{index}]", f"unknown field {printable(name)!r}",
                                             "UNKNOWN_FIELD"))
        elif any(g.name == field.name for g in groups):
            violations.append(FieldViolation(f"group_by[{index}]", f"{field.name} appears twice", "DUPLICATE_NAME"))
        else:
            groups.append(field)
    return groups


def _aggregates(catalog: FieldCatalog, specs: Sequence[AggregationSpec],
                violations: list[FieldViolation]) -> list[tuple[int, Aggregate]]:
    if not specs or len(specs) > MAX_AGGREGATIONS:
        violations.append(FieldViolation("aggregations", f"between 1 and {MAX_AGGREGATIONS} aggregations",
                                         "INVALID_AGGREGATIONS"))
        return []
    aggregates: list[tuple[int, Aggregate]] = []
    for index, spec in enumerate(specs):
        where = f"aggregations[{index}]"
        count = len(violations)
        function = spec.function
        if function is None:
            violations.append(FieldViolation(f"{where}.function", "must be set", "REQUIRED"))
            continue
        field: FieldRef | None = None
        if spec.field:
            field = catalog.resolve(spec.field)
            if field is None:
                violations.append(FieldViolation(f"{where}.field", f"unknown field {printable(spec.field)!r}",
                                                 "UNKNOWN_FIELD"))
            elif field.kind not in _ACCEPTS[function]:
                kinds = ", ".join(k.value.lower() for k in _ACCEPTS[function])
                violations.append(FieldViolation(
                    f"{where}.field", f"{function.name} does not apply to {field.name} ({field.type.sql}); "
                                      f"it takes {kinds} fields", "TYPE_MISMATCH"))
        elif function is not AggregateFunction.COUNT:
            violations.append(FieldViolation(f"{where}.field", f"{function.name} needs a field", "REQUIRED"))
        percentile = None
        if function is AggregateFunction.PERCENTILE:
            percentile = spec.percentile
            if not (math.isfinite(percentile) and 0.0 <= percentile <= 1.0):
                violations.append(FieldViolation(f"{where}.percentile", "must be between 0 and 1", "OUT_OF_RANGE"))
        alias = spec.alias or _default_alias(function, field)
        if not _ALIAS.fullmatch(alias):
            violations.append(FieldViolation(f"{where}.alias", "must match ^[A-Za-z_][A-Za-z0-9_]{0,127}$",
                                             "INVALID_FORMAT"))
        if len(violations) == count:
            aggregates.append((index, Aggregate(function, field, alias, percentile)))
    return aggregates


def _default_alias(function: AggregateFunction, field: FieldRef | None) -> str:
    return function.value if field is None else f"{function.value}_{field.name}"
