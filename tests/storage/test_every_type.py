"""Filters, ordering, summaries and exports over every column type, with nulls everywhere.

The built-in mock has no boolean, float, big-integer or nullable typed
columns, so this runs the real storage stack (DuckDB file, writer, pool,
ProjectManager) on a schema that has them all.
"""

from __future__ import annotations

import io
import json
import uuid
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
import pytest
from duckdb_spawn_server.domain.queries import ExportFormat
from duckdb_spawn_server.domain.records import ProjectRecord
from duckdb_spawn_server.domain.summaries import AggregateFunction, AggregationSpec
from duckdb_spawn_server.domain.values import format_timestamp

from tests.support.stack import Stack, storage_stack

COLUMNS = [("label", "VARCHAR"), ("flag", "BOOLEAN"), ("ratio", "DOUBLE"), ("score", "REAL"), ("big", "BIGINT"),
           ("huge", "HUGEINT"), ("small", "SMALLINT"), ("amount", "DECIMAL(12,3)"), ("day", "DATE"),
           ("moment", "TIMESTAMP"), ("ref", "UUID")]
DOCUMENT = {"name": "assets", "columns": [{"name": "id", "type": "UUID", "required": True},
                                          *({"name": n, "type": t} for n, t in COLUMNS)]}
REFS = [uuid.UUID(int=(k + 1) * 0x1111_1111_1111_1111_1111_1111_1111_1111) for k in range(6)]


def wire_row(i: int) -> dict[str, Any]:
    """Row i, in wire form; column k is null when (i + k) % 4 == 0."""
    values = {
        "label": f"l{i % 5}", "flag": i % 2 == 0, "ratio": (i % 7) * 0.5 - 1.25, "score": (i % 3) * 0.25,
        "big": str((i % 6) * 2**60 + i % 2), "huge": str((i % 4) * 10**30), "small": i % 5 - 2,
        "amount": f"{i % 8}.125", "day": (date(2024, 1, 1) + timedelta(days=i % 9)).isoformat(),
        "moment": format_timestamp(datetime(2024, 5, 1, 12) + timedelta(hours=i % 10)), "ref": str(REFS[i % 6]),
    }
    return {name: (None if (i + k) % 4 == 0 else values[name]) for k, (name, _) in enumerate(COLUMNS)}


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with storage_stack(tmp_path_factory.mktemp("types") / "types.duckdb", "asset_schema", DOCUMENT) as built:
        for i in range(36):
            built.manager.create(wire_row(i))
        yield built


def all_records(stack: Stack) -> list[ProjectRecord]:
    return stack.manager.list(1000).records


def walk(stack: Stack, order_by: str = "", filter_text: str = "", page_size: int = 5) -> list[uuid.UUID]:
    ids: list[uuid.UUID] = []
    token = ""
    for _ in range(100):
        page = stack.manager.list(page_size, token, filter_text=filter_text, order_by=order_by)
        ids += [r.project_id for r in page.records]
        token = page.next_page_token
        if not token:
            return ids
    raise AssertionError("pagination did not end")


def python_order(records: list[ProjectRecord], field: str, descending: bool) -> list[uuid.UUID]:
    by_id = sorted(records, key=lambda r: r.project_id, reverse=descending)
    present = sorted((r for r in by_id if r.attributes[field] is not None), key=lambda r: r.attributes[field],
                     reverse=descending)
    nulls = [r for r in by_id if r.attributes[field] is None]
    ordered = nulls + present if descending else present + nulls
    return [r.project_id for r in ordered]


@pytest.mark.parametrize("descending", [False, True], ids=["asc", "desc"])
@pytest.mark.parametrize("field", [name for name, _ in COLUMNS])
def test_every_type_orders_with_nulls_last_ascending_first_descending(stack: Stack, field: str,
                                                                      descending: bool) -> None:
    expected = python_order(all_records(stack), field, descending)
    assert walk(stack, f"{field} desc" if descending else field) == expected


def _is(value: Any, test: Any) -> bool:
    return value is not None and test(value)


B60 = 2**60
CASES: list[tuple[str, Any]] = [
    ("flag = true", lambda a: a["flag"] is True),
    ("flag = false", lambda a: a["flag"] is False),
    ("flag != true", lambda a: a["flag"] is not True),
    ("flag = null", lambda a: a["flag"] is None),
    ("NOT flag = true", lambda a: a["flag"] is not True),
    ("ratio > -0.5", lambda a: _is(a["ratio"], lambda v: v > -0.5)),
    ("ratio <= 0", lambda a: _is(a["ratio"], lambda v: v <= 0)),
    ("score = 0.25", lambda a: a["score"] == 0.25),
    (f"big > {2 * B60}", lambda a: _is(a["big"], lambda v: v > 2 * B60)),
    (f"big = {3 * B60 + 1}", lambda a: a["big"] == 3 * B60 + 1),
    (f'big != "{4 * B60}"', lambda a: a["big"] != 4 * B60),
    (f"huge >= {2 * 10**30}", lambda a: _is(a["huge"], lambda v: v >= 2 * 10**30)),
    ("small < 0", lambda a: _is(a["small"], lambda v: v < 0)),
    ("small = -2", lambda a: a["small"] == -2),
    ("amount = 3.125", lambda a: a["amount"] == Decimal("3.125")),
    ("amount > 5", lambda a: _is(a["amount"], lambda v: v > 5)),
    ("day >= 2024-01-05", lambda a: _is(a["day"], lambda v: v >= date(2024, 1, 5))),
    ('day = "2024-01-03"', lambda a: a["day"] == date(2024, 1, 3)),
    ("moment > 2024-05-01T15:00:00Z", lambda a: _is(a["moment"], lambda v: v > datetime(2024, 5, 1, 15))),
    ("moment < 2024-05-01T16:30:00+02:00", lambda a: _is(a["moment"], lambda v: v < datetime(2024, 5, 1, 14, 30))),
    (f'ref = "{REFS[2]}"', lambda a: a["ref"] == REFS[2]),
    (f'ref != "{REFS[2]}"', lambda a: a["ref"] != REFS[2]),
    ("label:*", lambda a: a["label"] is not None),
    ('label = "l*" AND NOT label = "l1"', lambda a: a["label"] is not None and a["label"] != "l1"),
    ("big:* AND huge = null", lambda a: a["big"] is not None and a["huge"] is None),
]


@pytest.mark.parametrize(("text", "predicate"), CASES, ids=[t for t, _ in CASES])
def test_filters_on_every_type_match_python(stack: Stack, text: str, predicate: Any) -> None:
    records = all_records(stack)
    expected = sorted(r.project_id for r in records if predicate(r.attributes))
    assert sorted(walk(stack, filter_text=text, page_size=1000)) == expected
    assert 0 < len(expected) < len(records) or text in ("flag = null",), "a case that selects all or nothing"


def test_summaries_over_every_type_match_duckdb(stack: Stack) -> None:
    specs = [AggregationSpec(AggregateFunction.SUM, "huge"), AggregationSpec(AggregateFunction.SUM, "big"),
             AggregationSpec(AggregateFunction.AVG, "ratio"), AggregationSpec(AggregateFunction.SUM, "amount"),
             AggregationSpec(AggregateFunction.MIN, "day"), AggregationSpec(AggregateFunction.MAX, "moment"),
             AggregationSpec(AggregateFunction.PERCENTILE, "moment", 0.25),
             AggregationSpec(AggregateFunction.COUNT, "ref")]
    summary = stack.manager.summarize("small != 0", ["flag"], specs)
    con = stack.database.cursor()
    expected = con.execute(
        "SELECT flag, sum(huge), sum(big), avg(ratio), sum(amount), min(day), max(moment), "
        "quantile_cont(moment, 0.25), count(ref) FROM assets WHERE small IS NULL OR small <> 0 "
        "GROUP BY flag ORDER BY flag NULLS LAST").fetchall()
    con.close()
    assert summary.rows == expected
    assert [c.type for c in summary.columns][1:6] == ["HUGEINT", "HUGEINT", "DOUBLE", "DECIMAL(38,3)", "DATE"]


@pytest.mark.parametrize("export_format", list(ExportFormat))
def test_exports_of_every_type_round_trip(stack: Stack, export_format: ExportFormat) -> None:
    data = b"".join(chunk for chunk, _ in stack.manager.export(export_format, order_by="small, label"))
    con = stack.database.cursor()
    reference = con.execute(f"SELECT id::VARCHAR AS id, {', '.join(n for n, _ in COLUMNS)} FROM assets "
                            "ORDER BY small NULLS LAST, label NULLS LAST, id").to_arrow_table()
    con.close()
    if export_format is ExportFormat.ARROW_IPC:
        table = pa.ipc.open_stream(data).read_all()
    elif export_format is ExportFormat.PARQUET:
        table = pq.read_table(io.BytesIO(data))
    elif export_format is ExportFormat.CSV:
        table = pa_csv.read_csv(io.BytesIO(data), convert_options=pa_csv.ConvertOptions(
            column_types=reference.schema, strings_can_be_null=True))
    else:
        rows = [json.loads(line) for line in data.decode().splitlines()]
        assert rows[0].keys() == set(reference.column_names)
        expected = [{k: _json_form(v) for k, v in row.items()} for row in reference.to_pylist()]
        assert rows == expected
        return
    assert table.cast(reference.schema).equals(reference)


def _json_form(value: Any) -> Any:
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime):
        return format_timestamp(value)
    if isinstance(value, date):
        return value.isoformat()
    return value
