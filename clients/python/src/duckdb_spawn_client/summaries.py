"""Aggregations for SummarizeProjects, and their short text form (`sum:total_amount`)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from duckdb_spawn.v1 import project_service_pb2 as pb

FUNCTIONS = {
    "count": pb.AGGREGATE_FUNCTION_COUNT,
    "sum": pb.AGGREGATE_FUNCTION_SUM,
    "avg": pb.AGGREGATE_FUNCTION_AVG,
    "min": pb.AGGREGATE_FUNCTION_MIN,
    "max": pb.AGGREGATE_FUNCTION_MAX,
    "percentile": pb.AGGREGATE_FUNCTION_PERCENTILE,
}
_TEXT = re.compile(r"^\s*(?P<function>[a-z]+|p\d{1,2}(?:\.\d+)?)\s*(?::\s*(?P<field>[A-Za-z_][\w.]*))?"
                   r"\s*(?:\s+as\s+(?P<alias>\w+))?\s*$")


@dataclass(frozen=True)
class Aggregation:
    function: str  # count, sum, avg, min, max, percentile
    field: str = ""
    percentile: float = 0.0
    alias: str = ""

    @classmethod
    def parse(cls, text: str) -> Aggregation:
        """`count`, `count:description`, `sum:total_amount`, `p95:total_amount`, `avg:dscr as mean_dscr`."""
        match = _TEXT.match(text)
        if match is None:
            raise ValueError(f"cannot read aggregation {text!r}; write it like count, sum:total_amount, "
                             f"p95:total_amount or avg:dscr as mean_dscr")
        function, field, alias = match["function"], match["field"] or "", match["alias"] or ""
        if re.fullmatch(r"p\d{1,2}(?:\.\d+)?", function):
            return cls("percentile", field, float(function[1:]) / 100, alias)
        if function not in FUNCTIONS:
            raise ValueError(f"unknown aggregate function {function!r}; use one of {', '.join(FUNCTIONS)} or pNN")
        return cls(function, field, 0.0, alias)

    def to_proto(self) -> pb.Aggregation:
        if self.function not in FUNCTIONS:
            raise ValueError(f"unknown aggregate function {self.function!r}")
        return pb.Aggregation(function=FUNCTIONS[self.function], field=self.field, percentile=self.percentile,
                              alias=self.alias)
