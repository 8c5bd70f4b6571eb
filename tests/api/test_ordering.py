"""order_by over every field of the schema, walked page by page, against Python's own sort."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import grpc
import pytest
from duckdb_spawn.v1 import project_service_pb2 as pb

from tests.support.rpc import call_error, create_request
from tests.support.servers import Stubs, in_process_server

FIELDS = ["project_name", "description", "total_amount", "maturity_years", "expected_tri", "dscr", "status",
          "currency_code", "creation_date", "last_updated", "project_id", "create_time", "update_time"]


def sort_value(project: pb.Project, field: str) -> Any:
    """The typed value of a field, as Python compares it."""
    if field == "create_time":
        return project.create_time.ToDatetime()
    if field == "update_time":
        return project.update_time.ToDatetime()
    value = project.attributes[field]
    if value is None:
        return None
    if field in ("total_amount", "expected_tri", "dscr"):
        return Decimal(value)
    if field == "maturity_years":
        return int(value)
    if field == "creation_date":
        return date.fromisoformat(value)
    if field == "last_updated":
        return datetime.fromisoformat(value.removesuffix("Z"))
    return value


def python_order(projects: list[pb.Project], keys: list[tuple[str, bool]]) -> list[str]:
    """Sorts like the documented rule: nulls as the largest value, project id as the last key."""
    ordered = sorted(projects, key=lambda p: p.name.removeprefix("projects/"), reverse=keys[-1][1])
    for field, descending in reversed(keys):
        with_value = [p for p in ordered if sort_value(p, field) is not None]
        nulls = [p for p in ordered if sort_value(p, field) is None]
        with_value.sort(key=lambda p, f=field: sort_value(p, f), reverse=descending)
        ordered = nulls + with_value if descending else with_value + nulls
    return [p.name for p in ordered]


def walk(stubs: Stubs, order_by: str, page_size: int, filter_text: str = "") -> list[str]:
    names: list[str] = []
    token = ""
    for _ in range(500):
        page = stubs.projects.ListProjects(pb.ListProjectsRequest(
            order_by=order_by, page_size=page_size, page_token=token, filter=filter_text), timeout=30)
        names += [p.name for p in page.projects]
        token = page.next_page_token
        if not token:
            return names
    raise AssertionError("pagination did not end")


@pytest.fixture(scope="module")
def projects(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Stubs, list[pb.Project]]]:
    with in_process_server(tmp_path_factory.mktemp("ordering") / "ordering.duckdb") as (_, stubs):
        created = []
        for i in range(30):  # few distinct values per field, so ties and nulls are everywhere
            created.append(stubs.projects.CreateProject(create_request(
                project_name=f"p{i % 7}", description=None if i % 3 == 0 else f"d{i % 4}",
                total_amount=str(Decimal(i % 5) * Decimal("1000.25")), maturity_years=i % 4,
                expected_tri=f"{i % 6}.50", dscr=f"1.{i % 3}0", status=["PROPOSED", "ACTIVE", "COMPLETED"][i % 3],
                currency_code=["EUR", "USD"][i % 2])))
        for i in range(0, 30, 4):
            update = pb.UpdateProjectRequest()
            update.project.name = created[i].name
            update.project.attributes.update({"project_name": f"renamed {i % 3}"})
            created[i] = stubs.projects.UpdateProject(update)
        yield stubs, created


@pytest.mark.parametrize("descending", [False, True], ids=["asc", "desc"])
@pytest.mark.parametrize("field", FIELDS)
def test_every_field_orders_like_python_across_pages(projects: tuple[Stubs, list[pb.Project]], field: str,
                                                     descending: bool) -> None:
    stubs, created = projects
    order_by = f"{field} desc" if descending else field
    assert walk(stubs, order_by, page_size=4) == python_order(created, [(field, descending)])


@pytest.mark.parametrize("order_by", ["status, total_amount desc", "currency_code desc, description, maturity_years",
                                      "attributes.dscr DESC, create_time", "maturity_years asc, status desc"])
def test_multi_key_orders_like_python(projects: tuple[Stubs, list[pb.Project]], order_by: str) -> None:
    stubs, created = projects
    keys = []
    for item in order_by.split(","):
        parts = item.split()
        keys.append((parts[0].removeprefix("attributes."), len(parts) > 1 and parts[1].lower() == "desc"))
    assert walk(stubs, order_by, page_size=3) == python_order(created, keys)


def test_the_default_order_is_newest_first(projects: tuple[Stubs, list[pb.Project]]) -> None:
    stubs, created = projects
    assert walk(stubs, "", page_size=7) == python_order(created, [("create_time", True)])


@pytest.mark.parametrize(("order_by", "reason"), [
    ("sponsor", "UNKNOWN_FIELD"), ("total_amount up", "INVALID_ORDER_BY"), ("status, status", "INVALID_ORDER_BY"),
    ("project_id, status", "INVALID_ORDER_BY"), (",".join(["status"] * 9), "INVALID_ORDER_BY"),
    ("status;", "INVALID_ORDER_BY"), ("", None),
])
def test_bad_orderings_are_invalid_argument(projects: tuple[Stubs, list[pb.Project]], order_by: str,
                                            reason: str | None) -> None:
    stubs, _ = projects
    if reason is None:
        stubs.projects.ListProjects(pb.ListProjectsRequest(order_by=order_by))
        return
    error = call_error(stubs.projects.ListProjects, pb.ListProjectsRequest(order_by=order_by))
    assert error.code == grpc.StatusCode.INVALID_ARGUMENT
    assert error.violations == {"order_by": reason}


def test_page_tokens_are_tied_to_filter_and_order(projects: tuple[Stubs, list[pb.Project]]) -> None:
    stubs, _ = projects
    first = stubs.projects.ListProjects(pb.ListProjectsRequest(order_by="total_amount", filter="maturity_years > 0",
                                                               page_size=2))
    assert first.next_page_token
    for other in [pb.ListProjectsRequest(order_by="total_amount desc", filter="maturity_years > 0"),
                  pb.ListProjectsRequest(order_by="total_amount", filter="maturity_years > 1"),
                  pb.ListProjectsRequest(order_by="total_amount")]:
        other.page_token = first.next_page_token
        error = call_error(stubs.projects.ListProjects, other)
        assert error.code == grpc.StatusCode.INVALID_ARGUMENT
        assert error.violations == {"page_token": "INVALID_PAGE_TOKEN"}
    same = pb.ListProjectsRequest(order_by="total_amount", filter="maturity_years > 0", page_size=50,
                                  page_token=first.next_page_token)
    rest = stubs.projects.ListProjects(same)
    assert len(first.projects) + len(rest.projects) == first.total_size == rest.total_size


def test_ordered_walk_is_stable_while_projects_are_being_created(tmp_path: Any) -> None:
    with in_process_server(tmp_path / "walk.duckdb") as (_, stubs):
        with ThreadPoolExecutor(max_workers=16) as pool:
            before = {p.name for p in pool.map(lambda i: stubs.projects.CreateProject(create_request(
                total_amount=f"{i % 50}.00", description=None if i % 5 == 0 else f"d{i % 9}"), timeout=60),
                range(600))}
        stop = threading.Event()
        arrived: list[str] = []

        def keep_creating() -> None:
            for i in range(2000):  # bounded in count
                if stop.is_set():
                    return
                arrived.append(stubs.projects.CreateProject(create_request(
                    total_amount=f"{i % 50}.50", description=None if i % 2 else "late"), timeout=30).name)

        writer = threading.Thread(target=keep_creating)
        writer.start()
        try:
            while len(arrived) < 5:
                threading.Event().wait(0.01)
            for order_by in ["total_amount desc", "description, total_amount"]:
                names = walk(stubs, order_by, page_size=37)
                assert len(names) == len(set(names)), f"a project appeared twice ({order_by})"
                assert before <= set(names), f"a project that existed before the walk was skipped ({order_by})"
        finally:
            stop.set()
            writer.join(60)
        assert uuid  # ids are server-generated here
