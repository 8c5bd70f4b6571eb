"""A column the schema in force adds but the table lacks yet (AUTO_MIGRATE=off): reads as null everywhere.

Reads, filters, orderings, exports and summaries all treat it like a column whose every value
is missing, as the README promises ("a column the table lacks reads as null"); only writes that
need it are refused until UpdateTable applies the migration.
"""

from __future__ import annotations

import io
import json

import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
from duckdb_spawn.v1 import admin_service_pb2 as admin_pb
from duckdb_spawn.v1 import project_service_pb2 as pb
from google.protobuf import json_format

from tests.tables.conftest import Migrating, document

NEW_COLUMNS = [{"name": "sponsor", "type": "VARCHAR"}, {"name": "budget", "type": "DECIMAL(20,2)"}]


def export(migrating: Migrating, export_format: int, **request: str) -> tuple[bytes, int]:
    chunks = list(migrating.stubs.projects.ExportProjects(
        pb.ExportProjectsRequest(format=export_format, **request), timeout=30))
    return b"".join(c.data for c in chunks), sum(c.row_count for c in chunks)


def test_exports_summaries_and_filters_read_a_pending_column_as_null(migrating: Migrating) -> None:
    refresh = migrating.publish(document("v2", extra=NEW_COLUMNS))
    assert refresh.outcome == admin_pb.REFRESH_OUTCOME_UPDATED and refresh.version == "v2"
    assert [s.column for s in refresh.pending_steps] == ["sponsor", "budget"]  # not applied: AUTO_MIGRATE=off
    names = sorted(p.attributes["project_name"] for p in migrating.all_projects())

    data, rows = export(migrating, pb.EXPORT_FORMAT_ARROW_IPC)
    table = pa.ipc.open_stream(data).read_all()
    assert rows == table.num_rows == 3
    assert table.column_names[-2:] == ["sponsor", "budget"]  # the schema's columns, in schema order
    assert table.schema.field("sponsor").type == pa.string()  # typed as the schema says, not a bare null
    assert table.schema.field("budget").type == pa.decimal128(20, 2)
    assert table["sponsor"].null_count == table["budget"].null_count == 3
    parquet = pq.read_table(io.BytesIO(export(migrating, pb.EXPORT_FORMAT_PARQUET)[0]))
    assert parquet.schema.field("budget").type == pa.decimal128(20, 2) and parquet["budget"].null_count == 3
    csv = pa_csv.read_csv(io.BytesIO(export(migrating, pb.EXPORT_FORMAT_CSV)[0]))
    assert csv.column_names[-2:] == ["sponsor", "budget"] and csv.num_rows == 3
    lines = [json.loads(line) for line in export(migrating, pb.EXPORT_FORMAT_JSONL)[0].decode().splitlines()]
    assert sorted(line["project_name"] for line in lines) == names
    assert all(line["sponsor"] is None and line["budget"] is None for line in lines)

    # Filters and orderings on the new column: every value is missing.
    assert export(migrating, pb.EXPORT_FORMAT_JSONL, filter='sponsor = "ACME"')[1] == 0
    assert export(migrating, pb.EXPORT_FORMAT_JSONL, filter="NOT sponsor:*", order_by="budget desc")[1] == 3
    listed = migrating.stubs.projects.ListProjects(pb.ListProjectsRequest(filter="budget != 5", order_by="sponsor"),
                                                   timeout=10)
    assert listed.total_size == 3
    assert [dict(p.attributes)["sponsor"] for p in listed.projects] == [None] * 3  # as GetProject reads it

    summary = migrating.stubs.projects.SummarizeProjects(pb.SummarizeProjectsRequest(
        group_by=["sponsor"], filter="budget = null",
        aggregations=[pb.Aggregation(function=pb.AGGREGATE_FUNCTION_COUNT),
                      pb.Aggregation(function=pb.AGGREGATE_FUNCTION_SUM, field="budget"),
                      pb.Aggregation(function=pb.AGGREGATE_FUNCTION_COUNT, field="sponsor")]), timeout=10)
    assert [(c.name, c.type) for c in summary.columns] == [
        ("sponsor", "VARCHAR"), ("count", "BIGINT"), ("sum_budget", "DECIMAL(38,2)"), ("count_sponsor", "BIGINT")]
    assert [json_format.MessageToDict(v) for v in summary.rows[0].values] == [None, 3, None, 0]
