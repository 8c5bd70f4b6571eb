"""SummarizeProjects: group-by aggregates equal to the same aggregates computed by DuckDB directly."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import grpc
import pyarrow as pa
import pytest
from duckdb_spawn.v1 import project_service_pb2 as pb
from duckdb_spawn_server.storage import summaries as summaries_storage
from google.protobuf import struct_pb2

from tests.support.rpc import call_error
from tests.support.servers import InProcessServer, Stubs, in_process_server

F = pb.AggregateFunction


def agg(function: int, field: str = "", percentile: float = 0.0, alias: str = "") -> pb.Aggregation:
    return pb.Aggregation(function=function, field=field, percentile=percentile, alias=alias)


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[InProcessServer, Stubs]]:
    count = 2_003  # not a whole number of cent cycles: the sum keeps its cents
    table = pa.table({
        "project_name": [f"p{i}" for i in range(count)],
        "description": [None if i % 4 == 0 else "d" for i in range(count)],
        # Sums of these overflow a double's 15-16 exact digits: only an exact DECIMAL sum gets them right.
        "total_amount": [f"{(i * 7_919_113_331) % 10**17}.{i % 100:02d}" for i in range(count)],
        "maturity_years": pa.array([i % 37 for i in range(count)], pa.int32()),
        "expected_tri": [f"{i % 21}.{i % 97:02d}" for i in range(count)],
        "dscr": [f"1.{i % 10}5" for i in range(count)],
        "status": [("PROPOSED", "ACTIVE", "COMPLETED")[i % 3] for i in range(count)],
        "currency_code": [("EUR", "USD", "JPY", "GBP")[i % 4] for i in range(count)],
    })
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    with in_process_server(tmp_path_factory.mktemp("summaries") / "summaries.duckdb") as (server, stubs):
        response = stubs.projects.ImportProjects(iter([pb.ImportProjectsRequest(
            arrow_ipc=sink.getvalue().to_pybytes())]))
        assert response.imported_count == count
        yield server, stubs


def duckdb_rows(server: InProcessServer, sql: str) -> tuple[list[str], list[tuple[Any, ...]]]:
    assert server.app.storage is not None
    con = server.app.storage.database.cursor()
    try:
        result = con.execute(sql)
        return [str(d[1]) for d in result.description], result.fetchall()
    finally:
        con.close()


def decode(value: struct_pb2.Value, sql_type: str) -> Any:
    """A response value back to the Python value DuckDB returns for its column type."""
    kind = value.WhichOneof("kind")
    if kind == "null_value":
        return None
    if sql_type.startswith("DECIMAL"):
        assert kind == "string_value", "decimals travel as exact strings"
        return Decimal(value.string_value)
    if sql_type in ("BIGINT", "INTEGER", "HUGEINT"):
        return int(value.string_value) if kind == "string_value" else int(value.number_value)
    if sql_type == "DATE":
        return date.fromisoformat(value.string_value)
    if sql_type == "TIMESTAMP":
        return datetime.fromisoformat(value.string_value.removesuffix("Z"))
    if sql_type == "DOUBLE":
        return value.number_value
    return value.string_value


def summarize(stubs: Stubs, **request: Any) -> tuple[list[tuple[str, str]], list[tuple[Any, ...]]]:
    response = stubs.projects.SummarizeProjects(pb.SummarizeProjectsRequest(**request))
    columns = [(c.name, c.type) for c in response.columns]
    rows = [tuple(decode(v, t) for v, (_, t) in zip(row.values, columns, strict=True)) for row in response.rows]
    return columns, rows


CASES = [
    pytest.param(
        {"aggregations": [agg(F.AGGREGATE_FUNCTION_COUNT), agg(F.AGGREGATE_FUNCTION_SUM, "total_amount"),
                          agg(F.AGGREGATE_FUNCTION_AVG, "dscr"), agg(F.AGGREGATE_FUNCTION_MIN, "expected_tri"),
                          agg(F.AGGREGATE_FUNCTION_MAX, "expected_tri"),
                          agg(F.AGGREGATE_FUNCTION_PERCENTILE, "total_amount", 0.5, "median_amount"),
                          agg(F.AGGREGATE_FUNCTION_PERCENTILE, "maturity_years", 0.95, "p95_maturity"),
                          agg(F.AGGREGATE_FUNCTION_COUNT, "description")]},
        "SELECT count(*), sum(total_amount), avg(dscr), min(expected_tri), max(expected_tri), "
        "quantile_cont(total_amount, 0.5), quantile_cont(maturity_years, 0.95), count(description) FROM projects",
        ["count", "sum_total_amount", "avg_dscr", "min_expected_tri", "max_expected_tri", "median_amount",
         "p95_maturity", "count_description"], id="whole-table"),
    pytest.param(
        {"group_by": ["status"], "aggregations": [agg(F.AGGREGATE_FUNCTION_SUM, "total_amount"),
                                                  agg(F.AGGREGATE_FUNCTION_COUNT),
                                                  agg(F.AGGREGATE_FUNCTION_MAX, "maturity_years", alias="longest")]},
        "SELECT status, sum(total_amount), count(*), max(maturity_years) FROM projects GROUP BY status "
        "ORDER BY status", ["status", "sum_total_amount", "count", "longest"], id="by-status"),
    pytest.param(
        {"filter": "maturity_years > 10 AND NOT currency_code = JPY",
         "group_by": ["status", "attributes.currency_code"],
         "aggregations": [agg(F.AGGREGATE_FUNCTION_SUM, "total_amount"), agg(F.AGGREGATE_FUNCTION_AVG, "total_amount"),
                          agg(F.AGGREGATE_FUNCTION_SUM, "maturity_years")]},
        "SELECT status, currency_code, sum(total_amount), avg(total_amount), sum(maturity_years) FROM projects "
        "WHERE maturity_years > 10 AND currency_code <> 'JPY' GROUP BY status, currency_code "
        "ORDER BY status, currency_code", ["status", "currency_code", "sum_total_amount", "avg_total_amount",
                                           "sum_maturity_years"], id="filtered-two-groups"),
    pytest.param(
        {"group_by": ["description", "creation_date"],
         "aggregations": [agg(F.AGGREGATE_FUNCTION_MIN, "last_updated"), agg(F.AGGREGATE_FUNCTION_MAX, "create_time"),
                          agg(F.AGGREGATE_FUNCTION_PERCENTILE, "creation_date", 0.25)]},
        "SELECT description, creation_date, min(last_updated), max(_create_time), quantile_cont(creation_date, 0.25) "
        "FROM projects GROUP BY description, creation_date ORDER BY description NULLS LAST, creation_date",
        ["description", "creation_date", "min_last_updated", "max_create_time", "percentile_creation_date"],
        id="dates-and-null-groups"),
    pytest.param(
        {"filter": 'project_name = "nobody"', "aggregations": [agg(F.AGGREGATE_FUNCTION_COUNT),
                                                              agg(F.AGGREGATE_FUNCTION_SUM, "total_amount")]},
        "SELECT count(*), sum(total_amount) FROM projects WHERE project_name = 'nobody'",
        ["count", "sum_total_amount"], id="no-match"),
    pytest.param(
        {"filter": 'project_name = "nobody"', "group_by": ["status"],
         "aggregations": [agg(F.AGGREGATE_FUNCTION_COUNT)]},
        "SELECT status, count(*) FROM projects WHERE project_name = 'nobody' GROUP BY status",
        ["status", "count"], id="no-groups"),
]


@pytest.mark.parametrize(("request_fields", "sql", "names"), CASES)
def test_summaries_match_duckdb(loaded: tuple[InProcessServer, Stubs], request_fields: dict[str, Any], sql: str,
                                names: list[str]) -> None:
    server, stubs = loaded
    columns, rows = summarize(stubs, **request_fields)
    types, expected = duckdb_rows(server, sql)
    assert columns == list(zip(names, types, strict=True))
    assert rows == expected


def test_decimal_sums_are_exact_beyond_double_precision(loaded: tuple[InProcessServer, Stubs]) -> None:
    server, stubs = loaded
    response = stubs.projects.SummarizeProjects(pb.SummarizeProjectsRequest(
        aggregations=[agg(F.AGGREGATE_FUNCTION_SUM, "total_amount")]))
    assert response.columns[0].type == "DECIMAL(38,2)"
    text = response.rows[0].values[0].string_value
    _, [(exact,)] = duckdb_rows(server, "SELECT sum(total_amount) FROM projects")
    assert text == format(exact, "f")
    assert Decimal(float(exact)) != exact, "the sum needs more digits than a double has"


@pytest.mark.parametrize(("request_fields", "violations"), [
    ({"group_by": ["sponsor"], "aggregations": [agg(F.AGGREGATE_FUNCTION_COUNT)]}, {"group_by[0]": "UNKNOWN_FIELD"}),
    ({"aggregations": [agg(F.AGGREGATE_FUNCTION_SUM, "status")]}, {"aggregations[0].field": "TYPE_MISMATCH"}),
    ({"aggregations": [agg(F.AGGREGATE_FUNCTION_AVG, "creation_date")]}, {"aggregations[0].field": "TYPE_MISMATCH"}),
    ({"aggregations": [agg(F.AGGREGATE_FUNCTION_MAX, "project_id")]}, {"aggregations[0].field": "TYPE_MISMATCH"}),
    ({"aggregations": [agg(F.AGGREGATE_FUNCTION_PERCENTILE, "dscr", 1.5)]},
     {"aggregations[0].percentile": "OUT_OF_RANGE"}),
    ({"aggregations": [agg(F.AGGREGATE_FUNCTION_UNSPECIFIED, "dscr")]}, {"aggregations[0].function": "REQUIRED"}),
    ({"aggregations": [agg(F.AGGREGATE_FUNCTION_SUM)]}, {"aggregations[0].field": "REQUIRED"}),
    ({"aggregations": []}, {"aggregations": "INVALID_AGGREGATIONS"}),
    ({"aggregations": [agg(F.AGGREGATE_FUNCTION_SUM, "dscr"), agg(F.AGGREGATE_FUNCTION_SUM, "dscr")]},
     {"aggregations[1].alias": "DUPLICATE_NAME", "aggregations[0].alias": "DUPLICATE_NAME"}),
    ({"group_by": ["status"], "aggregations": [agg(F.AGGREGATE_FUNCTION_COUNT, alias="status")]},
     {"aggregations[0].alias": "DUPLICATE_NAME"}),
    ({"aggregations": [agg(F.AGGREGATE_FUNCTION_COUNT, alias="bad alias!")]},
     {"aggregations[0].alias": "INVALID_FORMAT"}),
    ({"group_by": ["status", "status"], "aggregations": [agg(F.AGGREGATE_FUNCTION_COUNT)]},
     {"group_by[1]": "DUPLICATE_NAME"}),
    ({"filter": "status >", "aggregations": [agg(F.AGGREGATE_FUNCTION_COUNT)]}, {"filter": "INVALID_FILTER"}),
])
def test_bad_summaries_are_invalid_argument(loaded: tuple[InProcessServer, Stubs], request_fields: dict[str, Any],
                                            violations: dict[str, str]) -> None:
    _, stubs = loaded
    error = call_error(stubs.projects.SummarizeProjects, pb.SummarizeProjectsRequest(**request_fields))
    assert error.code == grpc.StatusCode.INVALID_ARGUMENT
    assert error.violations == violations


def test_too_many_groups_is_resource_exhausted(loaded: tuple[InProcessServer, Stubs],
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    _, stubs = loaded
    monkeypatch.setattr(summaries_storage, "MAX_SUMMARY_ROWS", 100)  # 2,003 projects, as many groups
    error = call_error(stubs.projects.SummarizeProjects, pb.SummarizeProjectsRequest(
        group_by=["project_name"], aggregations=[agg(F.AGGREGATE_FUNCTION_COUNT)]))
    assert error.code == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert error.error_info.reason == "TOO_MANY_GROUPS"
