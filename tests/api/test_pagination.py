"""Pagination: no duplicates or gaps, also while new projects keep arriving."""

from __future__ import annotations

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor

import grpc
from duckdb_spawn.v1 import project_service_pb2 as pb

from tests.support.rpc import call_error, create_request
from tests.support.servers import Stubs


def create_many(stubs: Stubs, count: int) -> set[str]:
    with ThreadPoolExecutor(max_workers=32) as pool:
        projects = pool.map(lambda i: stubs.projects.CreateProject(create_request(project_name=f"p{i}"),
                                                                   timeout=60), range(count))
        return {p.name for p in projects}


def walk(stubs: Stubs, page_size: int) -> tuple[list[str], list[int]]:
    names: list[str] = []
    sizes: list[int] = []
    token = ""
    for _ in range(100):  # bounded: 2,500 rows need 3 pages
        page = stubs.projects.ListProjects(pb.ListProjectsRequest(page_size=page_size, page_token=token))
        names += [p.name for p in page.projects]
        sizes.append(len(page.projects))
        token = page.next_page_token
        if not token:
            return names, sizes
    raise AssertionError("pagination did not end")


def test_walks_2500_projects_in_pages_of_1000(stubs: Stubs) -> None:
    created = create_many(stubs, 2500)
    names, sizes = walk(stubs, 1000)
    assert sizes == [1000, 1000, 500]
    assert len(names) == len(set(names)) == 2500
    assert set(names) == created
    times = [stubs.projects.GetProject(pb.GetProjectRequest(name=n)).create_time.ToNanoseconds()
             for n in names[995:1005]]
    assert times == sorted(times, reverse=True)


def test_walk_is_stable_while_projects_are_being_created(stubs: Stubs) -> None:
    created = create_many(stubs, 2500)
    stop = threading.Event()
    arrived: list[str] = []

    def keep_creating() -> None:
        for i in range(2000):  # bounded in count
            if stop.is_set():
                return
            arrived.append(stubs.projects.CreateProject(create_request(project_name=f"late{i}"), timeout=30).name)

    writer = threading.Thread(target=keep_creating)
    writer.start()
    try:
        while len(arrived) < 5:  # make sure writes are really interleaved with the walk
            threading.Event().wait(0.01)
        names, _ = walk(stubs, 1000)
    finally:
        stop.set()
        writer.join(60)
    assert len(names) == len(set(names)), "a project appeared twice"
    assert created <= set(names), "a project that existed before the walk was skipped"
    assert set(names) - created <= set(arrived)


def test_page_size_is_capped_at_1000_and_tokens_are_checked(stubs: Stubs) -> None:
    create_many(stubs, 1005)
    page = stubs.projects.ListProjects(pb.ListProjectsRequest(page_size=5000))
    assert len(page.projects) == 1000 and page.total_size == 1005 and page.next_page_token
    error = call_error(stubs.projects.ListProjects, pb.ListProjectsRequest(page_token="not-a-token"))
    assert error.code == grpc.StatusCode.INVALID_ARGUMENT
    assert error.violations == {"page_token": "INVALID_PAGE_TOKEN"}
    assert uuid  # ids are server-generated here
