"""AIP-160 filters over a real server: every case's expected result is computed in Python.

One server holds 40 varied projects. Each valid case pairs a filter with a
plain Python predicate over the same rows (written independently of the
server's parser: no shared code); the server must return exactly the rows
the predicate selects, and `total_size` must count them. Invalid cases
must be INVALID_ARGUMENT naming the reason and the 1-based position.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import grpc
import pytest
from duckdb_spawn.v1 import project_service_pb2 as pb

from tests.support.rpc import call_error, valid_attributes
from tests.support.servers import Stubs, in_process_server

Row = dict[str, Any]
KINDS = ["Solar farm", "Wind park", "Hydro dam", "Geothermal plant", "50% stake_in grid"]
SPECIAL = 'the "O\'Brien" * special'


@dataclass
class Dataset:
    stubs: Stubs
    rows: list[Row]
    context: dict[str, str]


def attributes_for(i: int) -> dict[str, Any]:
    kind = KINDS[i % 5]
    description: str | None = f"phase {i % 3} of the {kind.lower()}"
    if i % 4 == 0:
        description = None
    elif i % 7 == 0:
        description = SPECIAL
    amount = str(Decimal(i * 137_911) + Decimal(i % 100) / 100)
    if i == 39:
        amount = "123456789012345678.99"
    if i == 38:
        amount = "-42.50"
    return valid_attributes(
        project_name=f"{kind} {i}", description=description, total_amount=amount,
        maturity_years=(i * 7) % 31, expected_tri=f"{(i % 13) + 0.25:.2f}", dscr=f"{1 + (i % 9) / 10:.2f}",
        status=["PROPOSED", "ACTIVE", "COMPLETED"][i % 3], currency_code=["EUR", "USD", "GBP", "CHF"][i % 4])


def typed(project: pb.Project) -> Row:
    a = dict(project.attributes)
    return {
        "name": project.name,
        "project_id": uuid.UUID(a["project_id"]),
        "project_name": a["project_name"],
        "description": a["description"],
        "total_amount": Decimal(a["total_amount"]),
        "maturity_years": int(a["maturity_years"]),
        "expected_tri": Decimal(a["expected_tri"]),
        "dscr": Decimal(a["dscr"]),
        "status": a["status"],
        "currency_code": a["currency_code"],
        "creation_date": date.fromisoformat(a["creation_date"]),
        "last_updated": datetime.fromisoformat(a["last_updated"].removesuffix("Z")),
        "create_time": project.create_time.ToDatetime(),
        "update_time": project.update_time.ToDatetime(),
    }


def rfc3339(moment: datetime) -> str:
    return moment.isoformat(timespec="microseconds") + "Z"


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dataset]:
    with in_process_server(tmp_path_factory.mktemp("filters") / "filters.duckdb") as (_, stubs):
        created = []
        for i in range(40):
            request = pb.CreateProjectRequest()
            request.project.attributes.update(attributes_for(i))
            created.append(stubs.projects.CreateProject(request))
        for i in range(0, 40, 5):  # a later update_time for some
            update = pb.UpdateProjectRequest()
            update.project.name = created[i].name
            update.project.attributes.update({"maturity_years": (i * 7) % 31})
            created[i] = stubs.projects.UpdateProject(update)
        rows = [typed(p) for p in created]
        t20, t30, t39 = rows[20]["create_time"], rows[30]["create_time"], rows[39]["create_time"]
        context = {
            "amount7": str(rows[7]["total_amount"]),
            "today": rows[0]["creation_date"].isoformat(),
            "t20": rfc3339(t20), "t30": rfc3339(t30), "t39": rfc3339(t39),
            "t20_plus2": (t20 + timedelta(hours=2)).isoformat(timespec="microseconds") + "+02:00",
            "id5": str(rows[5]["project_id"]),
        }
        yield Dataset(stubs, rows, context)


def _lt(a: Any, b: Any) -> bool:
    return a is not None and a < b


# (filter, predicate). Placeholders {name} come from Dataset.context; `c` in predicates is that context.
Predicate = Callable[[Row, dict[str, str]], bool]
VALID: list[tuple[str, Predicate]] = [
    ('status = "ACTIVE"', lambda r, c: r["status"] == "ACTIVE"),
    ("status = ACTIVE", lambda r, c: r["status"] == "ACTIVE"),
    ("status = 'ACTIVE'", lambda r, c: r["status"] == "ACTIVE"),
    ('status != "ACTIVE"', lambda r, c: r["status"] != "ACTIVE"),
    ('-status = "ACTIVE"', lambda r, c: r["status"] != "ACTIVE"),
    ('NOT status = "ACTIVE"', lambda r, c: r["status"] != "ACTIVE"),
    ('status = "ACTIVE" OR status = "COMPLETED"', lambda r, c: r["status"] in ("ACTIVE", "COMPLETED")),
    ('status = "ACTIVE" AND currency_code = "EUR"',
     lambda r, c: r["status"] == "ACTIVE" and r["currency_code"] == "EUR"),
    ('status = "ACTIVE" currency_code = "EUR"', lambda r, c: r["status"] == "ACTIVE" and r["currency_code"] == "EUR"),
    # OR binds tighter than AND (AIP-160): a OR b AND c == (a OR b) AND c
    ('status = "PROPOSED" OR status = "ACTIVE" AND currency_code = "USD"',
     lambda r, c: r["status"] in ("PROPOSED", "ACTIVE") and r["currency_code"] == "USD"),
    ('currency_code = "USD" AND status = "PROPOSED" OR status = "ACTIVE"',
     lambda r, c: r["currency_code"] == "USD" and r["status"] in ("PROPOSED", "ACTIVE")),
    ('status = "PROPOSED" OR (status = "ACTIVE" AND currency_code = "USD")',
     lambda r, c: r["status"] == "PROPOSED" or (r["status"] == "ACTIVE" and r["currency_code"] == "USD")),
    ('(status = "PROPOSED" OR status = "ACTIVE") AND NOT currency_code = "USD"',
     lambda r, c: r["status"] in ("PROPOSED", "ACTIVE") and r["currency_code"] != "USD"),
    ('currency_code = "EUR" OR currency_code = "GBP" OR currency_code = "CHF"',
     lambda r, c: r["currency_code"] != "USD"),
    ('(((status = "ACTIVE")))', lambda r, c: r["status"] == "ACTIVE"),
    ('NOT (status = "ACTIVE" OR status = "PROPOSED")', lambda r, c: r["status"] == "COMPLETED"),
    ('NOT (NOT status = "ACTIVE")', lambda r, c: r["status"] == "ACTIVE"),
    ("attributes.status = COMPLETED", lambda r, c: r["status"] == "COMPLETED"),
    ("status:ACTIVE", lambda r, c: r["status"] == "ACTIVE"),
    ("total_amount > 1000000", lambda r, c: r["total_amount"] > 1000000),
    ("total_amount >= 1000000.00", lambda r, c: r["total_amount"] >= 1000000),
    ("total_amount < 0", lambda r, c: r["total_amount"] < 0),
    ("total_amount > -100", lambda r, c: r["total_amount"] > -100),
    ("total_amount = {amount7}", lambda r, c: r["total_amount"] == Decimal(c["amount7"])),
    ('total_amount = "{amount7}"', lambda r, c: r["total_amount"] == Decimal(c["amount7"])),
    ("total_amount != {amount7}", lambda r, c: r["total_amount"] != Decimal(c["amount7"])),
    ("total_amount <= {amount7}", lambda r, c: r["total_amount"] <= Decimal(c["amount7"])),
    ("total_amount > 123456789012345678.98", lambda r, c: r["total_amount"] > Decimal("123456789012345678.98")),
    ("total_amount = 123456789012345678.99", lambda r, c: r["total_amount"] == Decimal("123456789012345678.99")),
    ("total_amount > 1e6", lambda r, c: r["total_amount"] > 10**6),
    ("total_amount < 1378.005", lambda r, c: r["total_amount"] < Decimal("1378.005")),
    ("total_amount > 0 AND total_amount < 1000000 AND NOT status = COMPLETED",
     lambda r, c: 0 < r["total_amount"] < 1000000 and r["status"] != "COMPLETED"),
    ("maturity_years = 14", lambda r, c: r["maturity_years"] == 14),
    ("maturity_years:14", lambda r, c: r["maturity_years"] == 14),
    ("maturity_years > 10 AND maturity_years <= 20", lambda r, c: 10 < r["maturity_years"] <= 20),
    ("maturity_years < 2.5", lambda r, c: r["maturity_years"] < 2.5),
    ("maturity_years >= 0", lambda r, c: True),
    ("maturity_years != 0", lambda r, c: r["maturity_years"] != 0),
    ("-(maturity_years > 10)", lambda r, c: r["maturity_years"] <= 10),
    ('status = "ACTIVE" AND (maturity_years < 5 OR maturity_years > 25) AND total_amount > 0',
     lambda r, c: r["status"] == "ACTIVE" and (r["maturity_years"] < 5 or r["maturity_years"] > 25)
     and r["total_amount"] > 0),
    ("expected_tri > 5.5", lambda r, c: r["expected_tri"] > Decimal("5.5")),
    ("dscr = 1.5", lambda r, c: r["dscr"] == Decimal("1.5")),
    ("dscr >= 1.5 AND expected_tri < 10", lambda r, c: r["dscr"] >= Decimal("1.5") and r["expected_tri"] < 10),
    ('project_name = "Solar*"', lambda r, c: r["project_name"].startswith("Solar")),
    ('project_name = "*7"', lambda r, c: r["project_name"].endswith("7")),
    ('project_name = "*park*"', lambda r, c: "park" in r["project_name"]),
    ('project_name = "W*k 1*"', lambda r, c: r["project_name"].startswith("Wind park 1")),
    ('project_name != "Solar*"', lambda r, c: not r["project_name"].startswith("Solar")),
    ('project_name = "50% stake_in grid 4"', lambda r, c: r["project_name"] == "50% stake_in grid 4"),
    ('project_name = "50%*"', lambda r, c: r["project_name"].startswith("50%")),
    ('project_name = "5_%*"', lambda r, c: r["project_name"].startswith("5_%")),
    ('project_name = "*stake_in*"', lambda r, c: "stake_in" in r["project_name"]),
    ('project_name = "Solar farm 1"', lambda r, c: r["project_name"] == "Solar farm 1"),
    ('project_name:"farm"', lambda r, c: "farm" in r["project_name"]),
    ("project_name:farm", lambda r, c: "farm" in r["project_name"]),
    ('project_name:"dam 1*"', lambda r, c: "dam 1" in r["project_name"]),
    ('project_name < "Hydro"', lambda r, c: r["project_name"] < "Hydro"),
    ("description:*", lambda r, c: r["description"] is not None),
    ("NOT description:*", lambda r, c: r["description"] is None),
    ("description = null", lambda r, c: r["description"] is None),
    ("description != null", lambda r, c: r["description"] is not None),
    ('description = "phase 1*"', lambda r, c: r["description"] is not None and r["description"].startswith("phase 1")),
    ('description != "phase 1*"', lambda r, c: r["description"] is None or not r["description"].startswith("phase 1")),
    ('description != "phase 1 of the wind park"', lambda r, c: r["description"] != "phase 1 of the wind park"),
    ("description:\"O'Brien\"", lambda r, c: r["description"] is not None and "O'Brien" in r["description"]),
    ("description = 'the \"O\\'Brien\" \\* special'", lambda r, c: r["description"] == SPECIAL),
    ('description = "*\\* special"',
     lambda r, c: r["description"] is not None and r["description"].endswith("* special")),
    ('description < "phase 2"', lambda r, c: _lt(r["description"], "phase 2")),
    ('NOT description < "phase 2"', lambda r, c: not _lt(r["description"], "phase 2")),
    ('description:"phase" OR maturity_years = 0', lambda r, c: "phase" in (r["description"] or "")
     or r["maturity_years"] == 0),
    ("creation_date = {today}", lambda r, c: r["creation_date"].isoformat() == c["today"]),
    ("creation_date >= 2000-01-01", lambda r, c: True),
    ('creation_date < "2000-01-01"', lambda r, c: False),
    ("create_time > {t20}", lambda r, c: rfc3339(r["create_time"]) > c["t20"]),
    ("create_time >= {t20} AND create_time <= {t30}", lambda r, c: c["t20"] <= rfc3339(r["create_time"]) <= c["t30"]),
    ("create_time > {t20_plus2}", lambda r, c: rfc3339(r["create_time"]) > c["t20"]),
    ('create_time >= "{t20}"', lambda r, c: rfc3339(r["create_time"]) >= c["t20"]),
    ("create_time < 2000-01-01T00:00:00Z", lambda r, c: False),
    ("create_time > 2000-01-01", lambda r, c: True),
    ("update_time > {t39}", lambda r, c: rfc3339(r["update_time"]) > c["t39"]),
    ("last_updated > {t39}", lambda r, c: rfc3339(r["last_updated"]) > c["t39"]),
    ('project_id = "{id5}"', lambda r, c: str(r["project_id"]) == c["id5"]),
    ('project_id != "{id5}"', lambda r, c: str(r["project_id"]) != c["id5"]),
    ('currency_code = "EUR" status = ACTIVE maturity_years < 20',
     lambda r, c: r["currency_code"] == "EUR" and r["status"] == "ACTIVE" and r["maturity_years"] < 20),
]


@pytest.mark.parametrize(("text", "predicate"), VALID, ids=[text for text, _ in VALID])
def test_filter_matches_the_rows_python_selects(dataset: Dataset, text: str, predicate: Predicate) -> None:
    query = text.format_map(dataset.context)
    expected = sorted(r["name"] for r in dataset.rows if predicate(r, dataset.context))
    page = dataset.stubs.projects.ListProjects(pb.ListProjectsRequest(filter=query, page_size=1000), timeout=30)
    assert sorted(p.name for p in page.projects) == expected, query
    assert page.total_size == len(expected)


def test_the_suite_is_discriminating(dataset: Dataset) -> None:
    """A suite whose cases all matched everything (or nothing) would prove little."""
    sizes = [sum(1 for r in dataset.rows if p(r, dataset.context)) for _, p in VALID]
    assert len(VALID) >= 60
    assert sum(1 for s in sizes if 0 < s < len(dataset.rows)) >= 60


def test_an_empty_filter_matches_everything(dataset: Dataset) -> None:
    for text in ["", "   "]:
        page = dataset.stubs.projects.ListProjects(pb.ListProjectsRequest(filter=text, page_size=1000))
        assert page.total_size == len(dataset.rows) == len(page.projects)


DEEP = "(" * 17 + 'status = "ACTIVE"' + ")" * 17
MANY = " OR ".join(f"maturity_years = {i}" for i in range(65))
# (filter, reason of the field violation, 1-based position)
INVALID: list[tuple[str, str, int]] = [
    ("status =", "INVALID_FILTER", 9),
    ('status = "ACTIVE', "INVALID_FILTER", 10),
    ('sponsor = "x"', "UNKNOWN_FIELD", 1),
    ('attributes.sponsor = "x"', "UNKNOWN_FIELD", 1),
    ('total_amount > "abc"', "TYPE_MISMATCH", 16),
    ("maturity_years = true", "TYPE_MISMATCH", 18),
    ('maturity_years = "ten"', "TYPE_MISMATCH", 18),
    ("maturity_years = ten", "TYPE_MISMATCH", 18),
    ('status = "CANCELLED"', "NOT_IN_ENUM", 10),
    ("status > 5", "TYPE_MISMATCH", 10),
    ('(status = "ACTIVE"', "INVALID_FILTER", 19),
    ('status = "ACTIVE")', "INVALID_FILTER", 18),
    ('status = "ACTIVE" and currency_code = "EUR"', "INVALID_FILTER", 23),
    ('project_id < "{id5}"', "TYPE_MISMATCH", 12),
    ('creation_date = "yesterday"', "TYPE_MISMATCH", 17),
    ("creation_date = 2026-01-01T00:00:00Z", "TYPE_MISMATCH", 17),
    ("create_time > 2026-13-45T00:00:00Z", "TYPE_MISMATCH", 15),
    ("create_time > 12", "TYPE_MISMATCH", 15),
    ("total_amount > 1e400", "OUT_OF_RANGE", 16),
    ("total_amount < null", "TYPE_MISMATCH", 14),
    ("status:", "INVALID_FILTER", 8),
    ("status = null:", "INVALID_FILTER", 14),
    ('= "x"', "INVALID_FILTER", 1),
    ('status = "A" OR', "INVALID_FILTER", 16),
    ("count(status) > 1", "INVALID_FILTER", 6),
    ("status = other.field", "INVALID_FILTER", 10),
    ('"free text"', "INVALID_FILTER", 1),
    ("status = *", "TYPE_MISMATCH", 10),
    ("total_amount # 5", "INVALID_FILTER", 14),
    ("maturity_years = 1.2.3", "INVALID_FILTER", 21),
    ('NOT NOT status = "ACTIVE"', "INVALID_FILTER", 5),
    ('description = "a\x00b"', "INVALID_VALUE", 15),
    ("description:null", "TYPE_MISMATCH", 13),
    ("()", "INVALID_FILTER", 2),
    (DEEP, "FILTER_TOO_COMPLEX", 17),
]

# Length and term count are operator limits (MAX_FILTER_LENGTH, MAX_FILTER_TERMS; README, Security):
# checked before parsing, they name the variable to raise instead of a position.
OVER_LIMITS = [("x" * 4097, "FILTER_TOO_LONG", "MAX_FILTER_LENGTH"),
               (MANY, "FILTER_TOO_COMPLEX", "MAX_FILTER_TERMS")]


@pytest.mark.parametrize(("text", "reason", "position"), INVALID, ids=[t[:40] for t, _, _ in INVALID])
def test_invalid_filters_name_the_reason_and_position(dataset: Dataset, text: str, reason: str, position: int) -> None:
    query = text.format_map(dataset.context) if "{" in text else text
    error = call_error(dataset.stubs.projects.ListProjects, pb.ListProjectsRequest(filter=query), timeout=30)
    assert error.code == grpc.StatusCode.INVALID_ARGUMENT, error.message
    assert error.violations == {"filter": reason}, error.message
    assert error.error_info.reason == "INVALID_FILTER"
    assert error.error_info.metadata["position"] == str(position), error.message
    assert f"position {position}" in error.message


@pytest.mark.parametrize(("text", "reason", "variable"), OVER_LIMITS, ids=["too long", "too many terms"])
def test_filters_over_the_configured_limits_name_the_limit(dataset: Dataset, text: str, reason: str,
                                                          variable: str) -> None:
    error = call_error(dataset.stubs.projects.ListProjects, pb.ListProjectsRequest(filter=text), timeout=30)
    assert error.code == grpc.StatusCode.INVALID_ARGUMENT, error.message
    assert error.violations == {"filter": reason}
    assert error.error_info.reason == reason
    assert error.error_info.metadata["limit"] == variable and variable in error.message


def test_filters_apply_to_export_and_summaries_with_the_same_errors(dataset: Dataset) -> None:
    export = pb.ExportProjectsRequest(format=pb.EXPORT_FORMAT_JSONL, filter='status = "ACTIVE"')
    lines = b"".join(c.data for c in dataset.stubs.projects.ExportProjects(export)).splitlines()
    assert len(lines) == sum(1 for r in dataset.rows if r["status"] == "ACTIVE")
    bad = pb.ExportProjectsRequest(filter="nope = 1")
    error = call_error(lambda r: list(dataset.stubs.projects.ExportProjects(r)), bad)
    assert error.code == grpc.StatusCode.INVALID_ARGUMENT and error.violations == {"filter": "UNKNOWN_FIELD"}
    summary = pb.SummarizeProjectsRequest(filter="maturity_years > 10", aggregations=[
        pb.Aggregation(function=pb.AGGREGATE_FUNCTION_COUNT)])
    result = dataset.stubs.projects.SummarizeProjects(summary)
    assert result.rows[0].values[0].number_value == sum(1 for r in dataset.rows if r["maturity_years"] > 10)


def test_filter_and_paging_combine(dataset: Dataset) -> None:
    expected = [r["name"] for r in sorted((r for r in dataset.rows if r["status"] != "ACTIVE"),
                                          key=lambda r: (r["total_amount"], str(r["project_id"])))]
    names, token = [], ""
    for _ in range(20):
        page = dataset.stubs.projects.ListProjects(pb.ListProjectsRequest(
            filter='status != "ACTIVE"', order_by="total_amount", page_size=4, page_token=token))
        assert page.total_size == len(expected)
        names += [p.name for p in page.projects]
        token = page.next_page_token
        if not token:
            break
    assert names == expected
