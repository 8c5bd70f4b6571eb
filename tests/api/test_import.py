"""ImportProjects: client-streamed bulk loads, ATOMIC or BEST_EFFORT, Structs or Arrow IPC."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import grpc
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from duckdb_spawn.v1 import project_service_pb2 as pb

from tests.support.rpc import call_error, create_request, valid_attributes
from tests.support.servers import InProcessServer, Stubs, in_process_server

# One row in every 100 is invalid (1%), in one of four ways that rotate from block to block.
INVALID_OFFSETS = [(7, ("dscr", "OUT_OF_RANGE")), (31, ("status", "NOT_IN_ENUM")),
                   (58, ("total_amount", "TYPE_MISMATCH")), (83, ("project_name", "REQUIRED"))]


def invalid_kind(i: int) -> tuple[str, str] | None:
    """(field, reason) when row i (0-based) is invalid, else None."""
    offset, kind = INVALID_OFFSETS[(i // 100) % 4]
    return kind if i % 100 == offset else None


def bulk_table(start: int, count: int) -> pa.Table:
    rows = range(start, start + count)
    kinds = [invalid_kind(i) for i in rows]
    pairs = list(zip(rows, [k[0] if k else "" for k in kinds], strict=True))
    return pa.table({
        "project_name": [None if bad == "project_name" else f"bulk {i}" for i, bad in pairs],
        "total_amount": ["n/a" if bad == "total_amount" else f"{i}.{i % 100:02d}" for i, bad in pairs],
        "maturity_years": pa.array([i % 40 for i in rows], pa.int32()),
        "expected_tri": pa.array([Decimal(i % 900) / 100 for i in rows], pa.decimal128(5, 2)),
        "dscr": ["1000.00" if bad == "dscr" else "1.25" for _, bad in pairs],
        "status": ["LOST" if bad == "status" else ("ACTIVE", "COMPLETED")[i % 2] for i, bad in pairs],
        "currency_code": ["EUR"] * count,
    })


def ipc_bytes(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue().to_pybytes()


def arrow_messages(total: int, per_message: int, mode: int) -> Iterator[pb.ImportProjectsRequest]:
    """Generated lazily: the client never holds the whole import either."""
    for start in range(0, total, per_message):
        yield pb.ImportProjectsRequest(mode=mode, arrow_ipc=ipc_bytes(bulk_table(start, per_message)))


def export_table(stubs: Stubs, filter_text: str = "") -> pa.Table:
    data = b"".join(c.data for c in stubs.projects.ExportProjects(
        pb.ExportProjectsRequest(format=pb.EXPORT_FORMAT_ARROW_IPC, filter=filter_text), timeout=120))
    return pa.ipc.open_stream(data).read_all()


def count(stubs: Stubs) -> int:
    return stubs.projects.ListProjects(pb.ListProjectsRequest(page_size=1)).total_size


def test_best_effort_lands_exactly_the_valid_rows_of_200000(server: tuple[InProcessServer, Stubs]) -> None:
    app, stubs = server
    total = 200_000
    # Four kinds of invalid row, one per 100 rows: 1%.
    expected_bad = {i: invalid_kind(i) for i in range(total) if invalid_kind(i)}
    assert len(expected_bad) == total // 100
    response = stubs.projects.ImportProjects(arrow_messages(total, 10_000, pb.IMPORT_MODE_BEST_EFFORT), timeout=600)
    assert (response.received_count, response.imported_count, response.failed_count) == \
        (total, total - len(expected_bad), len(expected_bad))
    assert not response.errors_truncated
    reported = {e.row_number: [(v.field, v.reason) for v in e.field_violations] for e in response.errors}
    assert reported == {i + 1: [kind] for i, kind in expected_bad.items()}
    assert count(stubs) == total - len(expected_bad)

    landed = export_table(stubs).sort_by("project_name")
    valid = pa.concat_tables([bulk_table(s, 10_000) for s in range(0, total, 10_000)])
    keep = pa.array([i not in expected_bad for i in range(total)])
    valid = valid.filter(keep).sort_by("project_name")
    assert landed.column("project_name").equals(valid.column("project_name"))
    assert landed.column("total_amount").equals(pc.cast(valid.column("total_amount"), pa.decimal128(20, 2)))
    assert landed.column("expected_tri").equals(valid.column("expected_tri"))
    assert landed.column("maturity_years").equals(valid.column("maturity_years"))
    assert set(landed.column("currency_code").to_pylist()) == {"EUR"}
    assert len(set(landed.column("project_id").to_pylist())) == landed.num_rows  # fresh ids
    assert not list(app.db_path.parent.glob("duckdb-spawn-import-*")), "the spool file was left behind"


def test_an_import_of_more_than_a_million_rows_goes_through_by_default(
        server: tuple[InProcessServer, Stubs]) -> None:
    """No row cap unless an operator sets MAX_IMPORT_ROWS: a million and one rows land, in one transaction."""
    _, stubs = server
    total = 1_000_001

    def messages() -> Iterator[pb.ImportProjectsRequest]:
        for start in range(0, total, 10_000):
            yield pb.ImportProjectsRequest(mode=pb.IMPORT_MODE_BEST_EFFORT,
                                           arrow_ipc=ipc_bytes(bulk_table(start, min(10_000, total - start))))

    bad = sum(1 for i in range(total) if invalid_kind(i))
    response = stubs.projects.ImportProjects(messages(), timeout=600)
    assert (response.received_count, response.imported_count, response.failed_count) == (total, total - bad, bad)
    assert count(stubs) == total - bad


def test_atomic_with_one_bad_row_lands_nothing(stubs: Stubs) -> None:
    stubs.projects.CreateProject(create_request())
    good = bulk_table(0, 100).filter(pa.array([invalid_kind(i) is None for i in range(100)]))
    bad = bulk_table(400, 10)  # its 8th row (400 + 7) is invalid
    messages = [pb.ImportProjectsRequest(mode=pb.IMPORT_MODE_ATOMIC, arrow_ipc=ipc_bytes(good)),
                pb.ImportProjectsRequest(arrow_ipc=ipc_bytes(bad))]
    response = stubs.projects.ImportProjects(iter(messages))
    assert (response.received_count, response.imported_count, response.failed_count) == (good.num_rows + 10, 0, 1)
    assert [e.row_number for e in response.errors] == [good.num_rows + 8]
    assert [(v.field, v.reason) for v in response.errors[0].field_violations] == [("dscr", "OUT_OF_RANGE")]
    assert count(stubs) == 1
    ok = stubs.projects.ImportProjects(iter(messages[:1]))  # unspecified mode is ATOMIC
    assert ok.imported_count == good.num_rows and count(stubs) == 1 + good.num_rows


def test_struct_rows_are_numbered_across_the_stream_and_mix_with_arrow(stubs: Stubs) -> None:
    def struct_message(names: list[str], **bad: Any) -> pb.ImportProjectsRequest:
        rows = pb.StructRows()
        for name in names:
            rows.rows.add().update(valid_attributes(project_name=name, **(bad if name.endswith("!") else {})))
        return pb.ImportProjectsRequest(mode=pb.IMPORT_MODE_BEST_EFFORT, struct_rows=rows)

    arrow = pa.table({"project_name": ["a1", "a2"], "total_amount": pa.array([Decimal("1.5"), Decimal("2")],
                                                                            pa.decimal128(10, 1)),
                      "maturity_years": ["15", "sixteen"], "expected_tri": [1.25, 2.5], "dscr": ["1.10", "1.20"]})
    messages = [struct_message(["s1", "s2!", "s3"], dscr="1000"),
                pb.ImportProjectsRequest(arrow_ipc=ipc_bytes(arrow)),
                pb.ImportProjectsRequest(),  # a message without rows is fine
                struct_message(["s4!", "s5"], sponsor="x", currency_code="eu")]
    response = stubs.projects.ImportProjects(iter(messages))
    assert (response.received_count, response.imported_count, response.failed_count) == (7, 4, 3)
    assert {e.row_number: {v.field: v.reason for v in e.field_violations} for e in response.errors} == {
        2: {"dscr": "OUT_OF_RANGE"},
        5: {"maturity_years": "TYPE_MISMATCH"},
        6: {"sponsor": "UNKNOWN_FIELD", "currency_code": "PATTERN_MISMATCH"},
    }
    landed = {p.attributes["project_name"]: p for p in stubs.projects.ListProjects(pb.ListProjectsRequest()).projects}
    assert sorted(landed) == ["a1", "s1", "s3", "s5"]
    assert landed["a1"].attributes["total_amount"] == "1.50"
    assert landed["a1"].attributes["expected_tri"] == "1.25"
    assert landed["a1"].attributes["maturity_years"] == 15
    assert landed["s1"].attributes["status"] == "ACTIVE"


def test_an_export_imports_again_with_new_ids(stubs: Stubs) -> None:
    for i in range(5):
        stubs.projects.CreateProject(create_request(project_name=f"orig {i}", description=None if i % 2 else "x"))
    exported = b"".join(c.data for c in stubs.projects.ExportProjects(pb.ExportProjectsRequest()))
    response = stubs.projects.ImportProjects(iter([pb.ImportProjectsRequest(arrow_ipc=exported)]))
    assert response.imported_count == 5 and response.failed_count == 0
    both = export_table(stubs).sort_by("project_name")
    ids = both.column("project_id").to_pylist()
    assert len(set(ids)) == 10
    values = both.drop_columns(["project_id", "creation_date", "last_updated"]).to_pylist()
    assert values[0::2] == values[1::2]  # each original next to its copy, equal in every value


@pytest.mark.parametrize(("payload", "reason"), [
    (b"not arrow at all", "INVALID_ARROW"),
    (ipc_bytes(pa.table({"project_name": ["x"], "sponsor": ["y"]})), "UNKNOWN_FIELD"),
])
def test_structural_problems_fail_the_call_and_write_nothing(stubs: Stubs, payload: bytes, reason: str) -> None:
    good = ipc_bytes(bulk_table(0, 5))
    messages = [pb.ImportProjectsRequest(mode=pb.IMPORT_MODE_BEST_EFFORT, arrow_ipc=good),
                pb.ImportProjectsRequest(arrow_ipc=payload)]
    error = call_error(stubs.projects.ImportProjects, iter(messages))
    assert error.code == grpc.StatusCode.INVALID_ARGUMENT
    assert error.violations == {"arrow_ipc": reason}
    assert error.error_info.metadata["message_number"] == "2"
    assert count(stubs) == 0


def test_an_empty_stream_imports_nothing(stubs: Stubs) -> None:
    response = stubs.projects.ImportProjects(iter([]))
    assert (response.received_count, response.imported_count, response.failed_count) == (0, 0, 0)
    bad_mode = call_error(stubs.projects.ImportProjects, iter([pb.ImportProjectsRequest(mode=7)]))
    assert bad_mode.violations == {"mode": "INVALID_ENUM"}


def test_spools_left_by_a_crash_are_removed_at_start_up(tmp_path: Path) -> None:
    db = tmp_path / "data" / "spool.duckdb"
    db.parent.mkdir()
    orphan = db.parent / "duckdb-spawn-import-orphan.arrows"
    orphan.write_bytes(b"half an import")
    with in_process_server(db) as (_, stubs):
        assert not orphan.exists()
        assert count(stubs) == 0
