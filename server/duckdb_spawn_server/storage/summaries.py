"""A SummaryPlan (domain/summaries.py) as one GROUP BY query.

Aggregates are DuckDB's own: `sum` over DECIMAL(p, s) is DECIMAL(38, s),
exact; `quantile_cont` interpolates. Result column types are reported as
DuckDB names them.
"""

from __future__ import annotations

from typing import Any

from ..domain.errors import ResourceExhausted
from ..domain.summaries import MAX_SUMMARY_ROWS, Aggregate, AggregateFunction, Summary, SummaryColumn, SummaryPlan
from .pool import ConnectionPool
from .query_sql import field_sql, where_sql

_FUNCTIONS = {
    AggregateFunction.COUNT: "count",
    AggregateFunction.SUM: "sum",
    AggregateFunction.AVG: "avg",
    AggregateFunction.MIN: "min",
    AggregateFunction.MAX: "max",
}


def aggregate_sql(aggregate: Aggregate, params: list[Any]) -> str:
    if aggregate.field is None:
        return "count(*)"
    column = field_sql(aggregate.field)
    if aggregate.function is AggregateFunction.PERCENTILE:
        params.append(aggregate.percentile)
        return f"quantile_cont({column}, ?)"
    return f"{_FUNCTIONS[aggregate.function]}({column})"


def summary_sql(plan: SummaryPlan, source: str) -> tuple[str, list[Any]]:
    """`source`: the table, or TableLayouts.source's stand-in while it lacks some schema columns."""
    params: list[Any] = []
    groups = [field_sql(g) for g in plan.group_by]
    select = [*groups, *(aggregate_sql(a, params) for a in plan.aggregates)]
    where = where_sql(plan.filter)
    params += where.params
    sql = f"SELECT {', '.join(select)} FROM {source} WHERE {where.sql}"
    if groups:
        sql += f" GROUP BY {', '.join(groups)} ORDER BY {', '.join(g + ' ASC NULLS LAST' for g in groups)}"
    sql += f" LIMIT {MAX_SUMMARY_ROWS + 1}"
    return sql, params


def run_summary(pool: ConnectionPool, plan: SummaryPlan, source: str) -> Summary:
    sql, params = summary_sql(plan, source)
    with pool.connection() as con:
        result = con.execute(sql, params)
        description = result.description
        rows = result.fetchall()
    if len(rows) > MAX_SUMMARY_ROWS:
        raise ResourceExhausted(f"the summary has more than {MAX_SUMMARY_ROWS} groups; group by fewer fields "
                                "or filter", limit="summary_rows", reason="TOO_MANY_GROUPS")
    names = [g.name for g in plan.group_by] + [a.alias for a in plan.aggregates]
    columns = [SummaryColumn(name, str(column[1])) for name, column in zip(names, description, strict=True)]
    return Summary(columns, [tuple(row) for row in rows])
