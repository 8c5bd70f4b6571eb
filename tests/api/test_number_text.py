"""Numbers, dates, timestamps and UUIDs in text take ASCII digits only, and a negative zero is stored as zero.

Python's `\\d`, int(), Decimal() and fromisoformat() accept any Unicode digit,
so `total_amount: "١٢٣"` used to be stored as 123.00; and `"-0"` was stored
as `-0.00`. Every write path is checked through a real server: CreateProject,
UpdateProject, BatchCreateProjects, ImportProjects with Struct rows and with
Arrow rows (the vectorised path), and the filter language.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import grpc
import pyarrow as pa
import pytest
from duckdb_spawn.v1 import project_service_pb2 as pb
from google.protobuf import field_mask_pb2

from tests.support.ontology import project_document, running_ontology
from tests.support.rpc import call_error, create_request, valid_attributes
from tests.support.servers import Stubs, in_process_server

SCRIPTS = {"arabic-indic": "٠١٢٣٤٥٦٧٨٩", "devanagari": "०१२३४५६७८९", "full-width": "０１２３４５６７８９"}


def digits(script: str, text: str) -> str:
    return text.translate(str.maketrans("0123456789", SCRIPTS[script]))


def ipc(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue().to_pybytes()


def struct_rows(rows: list[dict[str, Any]]) -> pb.StructRows:
    message = pb.StructRows()
    for row in rows:
        message.rows.add().update(row)
    return message


def arrow_rows(rows: list[dict[str, Any]]) -> bytes:
    return ipc(pa.table({name: [row[name] for row in rows] for name in rows[0]}))


def import_both(stubs: Stubs, rows: list[dict[str, Any]]) -> pb.ImportProjectsResponse:
    """The rows twice, as Struct rows then as Arrow rows (numbered 1..n, then n+1..2n)."""
    return stubs.projects.ImportProjects(iter([
        pb.ImportProjectsRequest(mode=pb.IMPORT_MODE_BEST_EFFORT, struct_rows=struct_rows(rows)),
        pb.ImportProjectsRequest(arrow_ipc=arrow_rows(rows))]), timeout=30)


def row_errors(response: pb.ImportProjectsResponse) -> dict[int, dict[str, str]]:
    return {e.row_number: {v.field: v.reason for v in e.field_violations} for e in response.errors}


def count(stubs: Stubs) -> int:
    return stubs.projects.ListProjects(pb.ListProjectsRequest(page_size=1)).total_size


@pytest.mark.parametrize("script", list(SCRIPTS))
def test_foreign_digits_are_refused_on_every_write_path_naming_the_field(stubs: Stubs, script: str) -> None:
    amount, years = digits(script, "123"), digits(script, "12")
    mixed_amount = "12" + digits(script, "3") + ".50"

    error = call_error(stubs.projects.CreateProject, create_request(total_amount=amount, maturity_years=years))
    assert error.code == grpc.StatusCode.INVALID_ARGUMENT
    assert error.violations == {"attributes.total_amount": "TYPE_MISMATCH",
                                "attributes.maturity_years": "TYPE_MISMATCH"}
    assert error.error_info.reason == "INVALID_ATTRIBUTES"
    assert call_error(stubs.projects.CreateProject, create_request(total_amount=mixed_amount)).violations == {
        "attributes.total_amount": "TYPE_MISMATCH"}

    created = stubs.projects.CreateProject(create_request())
    update = pb.UpdateProjectRequest(update_mask=field_mask_pb2.FieldMask(paths=["attributes.total_amount"]))
    update.project.name = created.name
    update.project.attributes.update({"total_amount": amount})
    error = call_error(stubs.projects.UpdateProject, update)
    assert error.code == grpc.StatusCode.INVALID_ARGUMENT
    assert error.violations == {"attributes.total_amount": "TYPE_MISMATCH"}
    assert stubs.projects.GetProject(pb.GetProjectRequest(name=created.name)) == created

    error = call_error(stubs.projects.BatchCreateProjects, pb.BatchCreateProjectsRequest(requests=[
        create_request(), create_request(expected_tri=digits(script, "7.25"))]))
    assert error.code == grpc.StatusCode.INVALID_ARGUMENT
    assert error.violations == {"requests[1].project.attributes.expected_tri": "TYPE_MISMATCH"}

    rows = [valid_attributes(project_name="ok", total_amount="10.00"),
            valid_attributes(project_name="amount", total_amount=amount),
            valid_attributes(project_name="dscr", dscr=digits(script, "1.35")),
            valid_attributes(project_name="mixed", total_amount=mixed_amount)]
    imported = import_both(stubs, rows)
    assert (imported.received_count, imported.imported_count) == (8, 2)
    assert row_errors(imported) == {
        2: {"total_amount": "TYPE_MISMATCH"}, 3: {"dscr": "TYPE_MISMATCH"}, 4: {"total_amount": "TYPE_MISMATCH"},
        6: {"total_amount": "TYPE_MISMATCH"}, 7: {"dscr": "TYPE_MISMATCH"}, 8: {"total_amount": "TYPE_MISMATCH"}}
    years_as_text = pa.table({"project_name": ["y"], "total_amount": ["1.00"], "maturity_years": [years],
                              "expected_tri": ["1.00"], "dscr": ["1.10"]})
    imported = stubs.projects.ImportProjects(iter([pb.ImportProjectsRequest(
        mode=pb.IMPORT_MODE_BEST_EFFORT, arrow_ipc=ipc(years_as_text))]))
    assert imported.imported_count == 0 and row_errors(imported) == {1: {"maturity_years": "TYPE_MISMATCH"}}
    assert count(stubs) == 3  # `created` and the two "ok" rows


@pytest.mark.parametrize("script", list(SCRIPTS))
def test_foreign_digits_are_no_number_in_a_filter_or_a_request_id(stubs: Stubs, script: str) -> None:
    stubs.projects.CreateProject(create_request(total_amount="123.00"))
    assert stubs.projects.ListProjects(pb.ListProjectsRequest(filter="total_amount = 123")).total_size == 1
    for text in (f"total_amount = {digits(script, '123')}", f'total_amount = "{digits(script, "123")}"',
                 'total_amount = "1_2_3"'):
        error = call_error(stubs.projects.ListProjects, pb.ListProjectsRequest(filter=text))
        assert error.code == grpc.StatusCode.INVALID_ARGUMENT, text
        assert list(error.violations) == ["filter"] and error.error_info.reason == "INVALID_FILTER", text
    canonical = str(uuid.uuid4())
    request = create_request()
    request.request_id = digits(script, canonical[:8]) + canonical[8:]
    error = call_error(stubs.projects.CreateProject, request)
    assert error.code == grpc.StatusCode.INVALID_ARGUMENT and error.violations == {"request_id": "INVALID_FORMAT"}


NEGATIVE_ZEROS = ["-0", "-0.00", "-0.000", "-0e5", "-.0", -0.0]


def test_a_negative_zero_decimal_is_stored_and_returned_as_zero(stubs: Stubs) -> None:
    for value in NEGATIVE_ZEROS:
        created = stubs.projects.CreateProject(create_request(project_name=f"create {value}", total_amount=value,
                                                              expected_tri=value))
        assert (created.attributes["total_amount"], created.attributes["expected_tri"]) == ("0.00", "0.00"), value
        stored = stubs.projects.GetProject(pb.GetProjectRequest(name=created.name))
        assert stored.attributes["total_amount"] == "0.00" and stored == created, value

    created = stubs.projects.CreateProject(create_request(project_name="update"))
    update = pb.UpdateProjectRequest(update_mask=field_mask_pb2.FieldMask(paths=["attributes.dscr"]))
    update.project.name = created.name
    update.project.attributes.update({"dscr": "-0"})
    assert stubs.projects.UpdateProject(update).attributes["dscr"] == "0.00"

    batch = stubs.projects.BatchCreateProjects(pb.BatchCreateProjectsRequest(requests=[
        create_request(project_name="batch", total_amount="-0.0")]))
    assert batch.projects[0].attributes["total_amount"] == "0.00"

    rows = [valid_attributes(project_name=f"import {v}", total_amount=v) for v in NEGATIVE_ZEROS if isinstance(v, str)]
    assert import_both(stubs, rows).imported_count == 2 * len(rows)

    listed = stubs.projects.ListProjects(pb.ListProjectsRequest(page_size=1000))
    assert listed.total_size == len(NEGATIVE_ZEROS) + 2 + 2 * len(rows)
    amounts = {p.attributes["project_name"]: p.attributes["total_amount"] for p in listed.projects}
    assert {name: amount for name, amount in amounts.items() if name != "update"} == dict.fromkeys(
        set(amounts) - {"update"}, "0.00")
    assert stubs.projects.ListProjects(pb.ListProjectsRequest(filter="total_amount = 0")).total_size == \
        listed.total_size - 1


# -- the other kinds, on an ontology schema that has them as client columns ---------------------
EXTRA_COLUMNS = [{"name": "signed_on", "type": "DATE"}, {"name": "reviewed_at", "type": "TIMESTAMP"},
                 {"name": "counterparty", "type": "UUID"}, {"name": "ratio", "type": "DOUBLE"},
                 {"name": "units", "type": "HUGEINT"}]
GOOD = {"signed_on": "2026-01-31", "reviewed_at": "2026-01-31T12:00:00Z",
        "counterparty": "3f2b8c1e-4d5a-4e6f-8a7b-9c0d1e2f3a4b", "units": "12345678901234567890123456789012345678"}


@pytest.fixture
def kinds(tmp_path: Path) -> Iterator[Stubs]:
    with running_ontology(tmp_path / "ontology", project_document("v1", extra_columns=EXTRA_COLUMNS)) as ontology, \
            in_process_server(tmp_path / "data" / "db.duckdb", USE_MOCK_ONTO_SERVER="false",
                              ONTO_SERVER_URL=ontology.url) as (_, stubs):
        yield stubs


@pytest.mark.parametrize("script", list(SCRIPTS))
def test_dates_timestamps_uuids_and_big_integers_take_ascii_digits_only(kinds: Stubs, script: str) -> None:
    assert kinds.projects.CreateProject(create_request(**GOOD)).attributes["signed_on"] == "2026-01-31"
    foreign = {name: digits(script, text) for name, text in GOOD.items()}
    error = call_error(kinds.projects.CreateProject, create_request(**foreign))
    assert error.code == grpc.StatusCode.INVALID_ARGUMENT
    assert error.violations == {"attributes.signed_on": "INVALID_FORMAT", "attributes.reviewed_at": "INVALID_FORMAT",
                                "attributes.counterparty": "INVALID_FORMAT", "attributes.units": "TYPE_MISMATCH"}
    rows = [valid_attributes(**GOOD)] + [valid_attributes(**{**GOOD, name: text}) for name, text in foreign.items()]
    imported = import_both(kinds, rows)
    assert imported.imported_count == 2
    reasons = {"signed_on": "INVALID_FORMAT", "reviewed_at": "INVALID_FORMAT", "counterparty": "INVALID_FORMAT",
               "units": "TYPE_MISMATCH"}
    expected = {offset + 2 + index: {name: reasons[name]} for offset in (0, len(rows))
                for index, name in enumerate(foreign)}
    assert row_errors(imported) == expected
    error = call_error(kinds.projects.ListProjects, pb.ListProjectsRequest(
        filter=f'signed_on = "{foreign["signed_on"]}"'))
    assert error.code == grpc.StatusCode.INVALID_ARGUMENT and list(error.violations) == ["filter"]


def test_a_negative_zero_double_is_stored_as_zero(kinds: Stubs) -> None:
    created = kinds.projects.CreateProject(create_request(ratio=-0.0))
    stored = kinds.projects.GetProject(pb.GetProjectRequest(name=created.name))
    for project in (created, stored):
        assert project.attributes["ratio"] == 0.0 and math.copysign(1.0, project.attributes["ratio"]) == 1.0
    table = pa.table({**{k: [v] for k, v in valid_attributes().items()}, "ratio": pa.array([-0.0], pa.float64())})
    imported = kinds.projects.ImportProjects(iter([pb.ImportProjectsRequest(arrow_ipc=ipc(table))]))
    assert imported.imported_count == 1
    ratios = [p.attributes["ratio"] for p in kinds.projects.ListProjects(pb.ListProjectsRequest()).projects]
    assert ratios == [0.0, 0.0] and [math.copysign(1.0, r) for r in ratios] == [1.0, 1.0]


def test_hugeint_takes_its_whole_range_and_refuses_beyond_it(kinds: Stubs) -> None:
    """HUGEINT holds 39 digits, one more than Arrow's decimal128: nothing within range may fail in storage."""
    top, bottom = str(2**127 - 1), str(-(2**127))
    for value in (top, bottom):
        created = kinds.projects.CreateProject(create_request(**{**GOOD, "units": value}))
        assert kinds.projects.GetProject(pb.GetProjectRequest(name=created.name)).attributes["units"] == value
    imported = import_both(kinds, [valid_attributes(**{**GOOD, "units": top}),
                                   valid_attributes(**{**GOOD, "units": str(2**127)})])
    assert imported.imported_count == 2  # the top value, as a Struct row and as an Arrow row
    errors = row_errors(imported)
    assert sorted(errors) == [2, 4] and all(set(e) == {"units"} for e in errors.values()), errors
    error = call_error(kinds.projects.CreateProject, create_request(**{**GOOD, "units": str(2**127)}))
    assert error.code == grpc.StatusCode.INVALID_ARGUMENT and list(error.violations) == ["attributes.units"]
    assert kinds.projects.ListProjects(pb.ListProjectsRequest(filter=f"units > {10**37}")).total_size == 3


def test_arrow_dates_and_times_beyond_year_9999_or_before_year_1_are_refused_per_row(kinds: Stubs) -> None:
    """They used to be stored, then read back clamped (9999-12-31) or broke the JSON-lines export (INTERNAL)."""
    base = {name: [value] * 4 for name, value in valid_attributes(**GOOD).items()
            if name not in ("signed_on", "reviewed_at")}
    day_10000 = (date(9999, 12, 31) - date(1970, 1, 1)).days + 1
    table = pa.table({**base,
                      "signed_on": pa.array([0, day_10000, -719_163 - 1, 100], pa.date32()),
                      "reviewed_at": pa.array([0, 253_402_300_800 * 10**6, -62_135_596_800 * 10**6 - 1, None],
                                              pa.timestamp("us"))})
    report = kinds.projects.ImportProjects(iter([pb.ImportProjectsRequest(
        mode=pb.IMPORT_MODE_BEST_EFFORT, arrow_ipc=ipc(table))]), timeout=30)
    assert report.imported_count == 2
    assert row_errors(report) == {2: {"signed_on": "OUT_OF_RANGE", "reviewed_at": "OUT_OF_RANGE"},
                                  3: {"signed_on": "OUT_OF_RANGE", "reviewed_at": "OUT_OF_RANGE"}}
    for export_format in (pb.EXPORT_FORMAT_JSONL, pb.EXPORT_FORMAT_CSV, pb.EXPORT_FORMAT_PARQUET,
                          pb.EXPORT_FORMAT_ARROW_IPC):
        chunks = list(kinds.projects.ExportProjects(pb.ExportProjectsRequest(format=export_format), timeout=30))
        assert sum(c.row_count for c in chunks) == 2
    days = sorted(p.attributes["signed_on"] for p in kinds.projects.ListProjects(pb.ListProjectsRequest()).projects)
    assert days == ["1970-01-01", "1970-04-11"]
