"""BatchCreateProjects (AIP-233): up to 1,000 projects, all or none, failures name requests[i]."""

from __future__ import annotations

import uuid

import grpc
from duckdb_spawn.v1 import project_service_pb2 as pb

from tests.support.rpc import call_error, create_request
from tests.support.servers import Stubs


def count(stubs: Stubs) -> int:
    return stubs.projects.ListProjects(pb.ListProjectsRequest(page_size=1)).total_size


def test_a_thousand_projects_are_created_in_request_order(stubs: Stubs) -> None:
    requests = [create_request(project_name=f"batch {i}", total_amount=f"{i}.01") for i in range(1000)]
    chosen = uuid.uuid4()
    requests[10].project_id = str(chosen)
    response = stubs.projects.BatchCreateProjects(pb.BatchCreateProjectsRequest(requests=requests), timeout=60)
    assert [p.attributes["project_name"] for p in response.projects] == [f"batch {i}" for i in range(1000)]
    assert response.projects[10].name == f"projects/{chosen}"
    assert count(stubs) == 1000
    assert stubs.projects.GetProject(pb.GetProjectRequest(name=response.projects[999].name)) == response.projects[999]


def test_one_invalid_request_creates_nothing_and_is_named(stubs: Stubs) -> None:
    requests = [create_request(project_name=f"b{i}") for i in range(5)]
    requests[1].project.attributes.update({"dscr": "1000"})
    requests[3].project.attributes.update({"status": "LOST", "sponsor": "x"})
    requests[4].project_id = "nope"
    error = call_error(stubs.projects.BatchCreateProjects, pb.BatchCreateProjectsRequest(requests=requests))
    assert error.code == grpc.StatusCode.INVALID_ARGUMENT
    assert error.error_info.reason == "INVALID_BATCH"
    assert error.error_info.metadata["first_invalid_request"] == "1"
    assert error.violations == {
        "requests[1].project.attributes.dscr": "OUT_OF_RANGE",
        "requests[3].project.attributes.status": "NOT_IN_ENUM",
        "requests[3].project.attributes.sponsor": "UNKNOWN_FIELD",
        "requests[4].project_id": "INVALID_FORMAT",
    }
    assert count(stubs) == 0


def test_an_existing_id_fails_the_whole_batch(stubs: Stubs) -> None:
    existing = stubs.projects.CreateProject(create_request())
    requests = [create_request(project_name=f"b{i}") for i in range(3)]
    requests[2].project_id = existing.name.removeprefix("projects/")
    error = call_error(stubs.projects.BatchCreateProjects, pb.BatchCreateProjectsRequest(requests=requests))
    assert error.code == grpc.StatusCode.ALREADY_EXISTS
    assert error.error_info.metadata["resource_name"] == existing.name
    assert count(stubs) == 1


def test_duplicate_ids_in_one_batch_are_invalid(stubs: Stubs) -> None:
    chosen = str(uuid.uuid4())
    requests = [create_request(project_id=chosen), create_request(), create_request(project_id=chosen)]
    error = call_error(stubs.projects.BatchCreateProjects, pb.BatchCreateProjectsRequest(requests=requests))
    assert error.violations == {"requests[2].project_id": "DUPLICATE_ID"}
    assert count(stubs) == 0


def test_batch_size_limits_and_inner_request_ids(stubs: Stubs) -> None:
    empty = call_error(stubs.projects.BatchCreateProjects, pb.BatchCreateProjectsRequest())
    assert empty.violations == {"requests": "INVALID_BATCH_SIZE"}
    too_many = pb.BatchCreateProjectsRequest(requests=[create_request() for _ in range(1001)])
    # Over 1,000 is refused by the configurable limit (MAX_BATCH_SIZE, default 1,000) before the domain sees it.
    too_many_error = call_error(stubs.projects.BatchCreateProjects, too_many)
    assert too_many_error.code == grpc.StatusCode.INVALID_ARGUMENT
    assert too_many_error.violations == {"requests": "BATCH_TOO_LARGE"}
    inner = create_request()
    inner.request_id = str(uuid.uuid4())
    error = call_error(stubs.projects.BatchCreateProjects, pb.BatchCreateProjectsRequest(requests=[inner]))
    assert error.violations == {"requests[0].request_id": "NOT_ALLOWED"}
    assert count(stubs) == 0


def test_a_thousand_invalid_requests_still_give_a_readable_error(stubs: Stubs) -> None:
    """Every request broken in several ways: the error stays within gRPC's trailer limit."""
    requests = []
    for i in range(1000):
        request = create_request(dscr="1000", status="LOST", currency_code="euro")
        request.project.attributes.update({f"unknown_{i}": 1})
        requests.append(request)
    error = call_error(stubs.projects.BatchCreateProjects, pb.BatchCreateProjectsRequest(requests=requests),
                       timeout=60)
    assert error.code == grpc.StatusCode.INVALID_ARGUMENT
    assert error.error_info.metadata["invalid_requests"] == "1000"
    assert int(error.error_info.metadata["violations_total"]) == 4000
    assert 0 < int(error.error_info.metadata["violations_shown"]) == len(error.violations) < 4000
    assert "requests[0].project.attributes.dscr" in error.violations
