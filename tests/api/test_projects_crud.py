"""The project CRUD slice over a real server and DuckDB file."""

from __future__ import annotations

import uuid

import grpc
import pytest
from duckdb_spawn.v1 import project_service_pb2 as pb
from google.protobuf import field_mask_pb2

from tests.support.rpc import call_error, create_request
from tests.support.servers import Stubs


def test_create_returns_the_stored_project_with_exact_values(stubs: Stubs) -> None:
    project = stubs.projects.CreateProject(create_request(total_amount="1250000.50", dscr=1.35))
    attributes = dict(project.attributes)
    pid = project.name.removeprefix("projects/")
    assert uuid.UUID(pid)
    assert attributes["project_id"] == pid
    assert attributes["total_amount"] == "1250000.50"
    assert attributes["dscr"] == "1.35"
    assert attributes["expected_tri"] == "7.25"
    assert attributes["maturity_years"] == 15
    assert attributes["creation_date"] == project.create_time.ToDatetime().date().isoformat()
    assert attributes["last_updated"].endswith("Z")
    assert project.etag and project.schema_version.startswith("sha256:")
    assert stubs.projects.GetProject(pb.GetProjectRequest(name=project.name)) == project


def test_defaults_apply_and_client_chosen_ids_are_used(stubs: Stubs) -> None:
    chosen = uuid.uuid4()
    project = stubs.projects.CreateProject(create_request(project_id=chosen, status=..., currency_code=...))
    assert project.name == f"projects/{chosen}"
    assert project.attributes["status"] == "PROPOSED"
    assert project.attributes["currency_code"] == "USD"
    again = call_error(stubs.projects.CreateProject, create_request(project_id=chosen))
    assert again.code == grpc.StatusCode.ALREADY_EXISTS
    assert again.error_info.reason == "ALREADY_EXISTS"


def test_get_missing_is_not_found_and_malformed_name_is_invalid(stubs: Stubs) -> None:
    missing = call_error(stubs.projects.GetProject, pb.GetProjectRequest(name=f"projects/{uuid.uuid4()}"))
    assert missing.code == grpc.StatusCode.NOT_FOUND
    assert missing.error_info.reason == "PROJECT_NOT_FOUND"
    assert missing.error_info.domain == "duckdbspawn.io"
    for name in ["", "projects/", "projects/123", "tables/x", "projects/../../etc", f"project/{uuid.uuid4()}"]:
        bad = call_error(stubs.projects.GetProject, pb.GetProjectRequest(name=name))
        assert bad.code == grpc.StatusCode.INVALID_ARGUMENT, name
        assert bad.violations == {"name": "INVALID_NAME"}


def test_update_with_mask_changes_only_masked_fields(stubs: Stubs) -> None:
    created = stubs.projects.CreateProject(create_request())
    request = pb.UpdateProjectRequest(update_mask=field_mask_pb2.FieldMask(paths=["attributes.status",
                                                                                 "attributes.description"]))
    request.project.name = created.name
    request.project.attributes.update({"status": "COMPLETED", "project_name": "ignored, not in mask"})
    updated = stubs.projects.UpdateProject(request)
    assert updated.attributes["status"] == "COMPLETED"
    assert updated.attributes["project_name"] == created.attributes["project_name"]
    assert updated.attributes["description"] is None  # in the mask, absent from the request: cleared
    assert updated.etag != created.etag
    assert updated.update_time.ToDatetime() > created.update_time.ToDatetime()
    assert updated.create_time == created.create_time
    assert updated.attributes["creation_date"] == created.attributes["creation_date"]
    assert stubs.projects.GetProject(pb.GetProjectRequest(name=created.name)) == updated


def test_update_without_mask_changes_the_fields_given(stubs: Stubs) -> None:
    created = stubs.projects.CreateProject(create_request())
    request = pb.UpdateProjectRequest()
    request.project.name = created.name
    request.project.attributes.update({"total_amount": "99.99"})
    updated = stubs.projects.UpdateProject(request)
    assert updated.attributes["total_amount"] == "99.99"
    assert updated.attributes["description"] == created.attributes["description"]


def test_update_revalidates_and_writes_nothing_when_invalid(stubs: Stubs) -> None:
    created = stubs.projects.CreateProject(create_request())
    request = pb.UpdateProjectRequest(update_mask=field_mask_pb2.FieldMask(paths=["attributes.project_name",
                                                                                 "attributes.dscr"]))
    request.project.name = created.name
    request.project.attributes.update({"dscr": "1000"})  # project_name absent -> cleared -> required
    error = call_error(stubs.projects.UpdateProject, request)
    assert error.code == grpc.StatusCode.INVALID_ARGUMENT
    assert error.violations == {"attributes.dscr": "OUT_OF_RANGE", "attributes.project_name": "REQUIRED"}
    assert stubs.projects.GetProject(pb.GetProjectRequest(name=created.name)) == created


@pytest.mark.parametrize("paths", [["name"], ["attributes.a.b"], ["attributes."], ["*", "attributes.status"]])
def test_bad_masks_are_invalid_argument(stubs: Stubs, paths: list[str]) -> None:
    created = stubs.projects.CreateProject(create_request())
    request = pb.UpdateProjectRequest(update_mask=field_mask_pb2.FieldMask(paths=paths))
    request.project.name = created.name
    assert call_error(stubs.projects.UpdateProject, request).code == grpc.StatusCode.INVALID_ARGUMENT


def test_update_and_delete_of_missing_projects_are_not_found(stubs: Stubs) -> None:
    name = f"projects/{uuid.uuid4()}"
    request = pb.UpdateProjectRequest()
    request.project.name = name
    request.project.attributes.update({"status": "ACTIVE"})
    assert call_error(stubs.projects.UpdateProject, request).code == grpc.StatusCode.NOT_FOUND
    assert call_error(stubs.projects.DeleteProject, pb.DeleteProjectRequest(name=name)).code == \
        grpc.StatusCode.NOT_FOUND


def test_delete_removes_the_project(stubs: Stubs) -> None:
    created = stubs.projects.CreateProject(create_request())
    stubs.projects.DeleteProject(pb.DeleteProjectRequest(name=created.name))
    error = call_error(stubs.projects.GetProject, pb.GetProjectRequest(name=created.name))
    assert error.code == grpc.StatusCode.NOT_FOUND
    assert call_error(stubs.projects.DeleteProject, pb.DeleteProjectRequest(name=created.name)).code == \
        grpc.StatusCode.NOT_FOUND


def test_list_defaults_and_limits(stubs: Stubs) -> None:
    names = [stubs.projects.CreateProject(create_request(project_name=f"p{i}")).name for i in range(5)]
    page = stubs.projects.ListProjects(pb.ListProjectsRequest())
    assert [p.name for p in page.projects] == list(reversed(names))  # newest first
    assert page.total_size == 5 and page.next_page_token == ""
    negative = call_error(stubs.projects.ListProjects, pb.ListProjectsRequest(page_size=-1))
    assert negative.violations == {"page_size": "INVALID_PAGE_SIZE"}
    bad_filter = call_error(stubs.projects.ListProjects, pb.ListProjectsRequest(filter='status = "ACTIV"'))
    assert bad_filter.code == grpc.StatusCode.INVALID_ARGUMENT
    assert bad_filter.violations == {"filter": "NOT_IN_ENUM"}


def test_initialize_database_is_idempotent(stubs: Stubs) -> None:
    response = stubs.projects.InitializeDatabase(pb.InitializeDatabaseRequest())
    assert [(t.table, t.created) for t in response.tables] == [("tables/projects", False)]
