"""Bad input: INVALID_ARGUMENT listing every violation, nothing written, never INTERNAL or SQL."""

from __future__ import annotations

import uuid

import grpc
import pytest
from duckdb_spawn.v1 import project_service_pb2 as pb
from google.protobuf import field_mask_pb2

from tests.support.rpc import RichError, call_error, create_request, valid_attributes
from tests.support.servers import Stubs

SQL_MARKERS = ("SELECT", "INSERT", "UPDATE ", "DELETE FROM", "Binder Error", "Catalog Error", "Parser Error",
               "Conversion Error", "Constraint Error", "duckdb", "Traceback", '.py"')


def count_projects(stubs: Stubs) -> int:
    return stubs.projects.ListProjects(pb.ListProjectsRequest(page_size=1)).total_size


def assert_clean(error: RichError) -> None:
    assert error.code not in (grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN), error.message
    for marker in SQL_MARKERS:
        assert marker not in error.message, error.message
    assert error.error_info is not None and error.error_info.domain == "duckdbspawn.io"
    assert error.error_info.reason


def test_every_violation_is_listed_and_nothing_is_written(stubs: Stubs) -> None:
    request = pb.CreateProjectRequest()
    attributes = valid_attributes(project_name=...,  # missing required
                                  maturity_years="ten",  # wrong type
                                  expected_tri="123456.00",  # beyond DECIMAL(5,2)
                                  status="CANCELLED",  # not in the enum
                                  currency_code="EURO",  # 4 letters
                                  )
    attributes["sponsor"] = "ACME"  # unknown field
    request.project.attributes.update(attributes)
    error = call_error(stubs.projects.CreateProject, request)
    assert error.code == grpc.StatusCode.INVALID_ARGUMENT
    assert error.error_info.reason == "INVALID_ATTRIBUTES"
    assert error.violations == {
        "attributes.project_name": "REQUIRED",
        "attributes.maturity_years": "TYPE_MISMATCH",
        "attributes.expected_tri": "OUT_OF_RANGE",
        "attributes.status": "NOT_IN_ENUM",
        "attributes.currency_code": "TOO_LONG",
        "attributes.sponsor": "UNKNOWN_FIELD",
    }
    assert all(v.description for v in error.bad_request.field_violations)
    assert count_projects(stubs) == 0


def test_currency_must_be_three_upper_case_letters(stubs: Stubs) -> None:
    for code in ["eur", "E1R", "EU"]:
        error = call_error(stubs.projects.CreateProject, create_request(currency_code=code))
        assert error.violations == {"attributes.currency_code": "PATTERN_MISMATCH"}, code
    assert count_projects(stubs) == 0


NASTY_STRINGS = [
    "'; DROP TABLE projects; --", '"; DROP TABLE projects; --', "x' OR '1'='1", "\x00", "🦆" * 10,
    "\u202e\u0000abc", "%s%s%s", "{{7*7}}", "../../etc/passwd", "a" * 100_000, "NULL", "",
    "1; ATTACH 'x.db'", "COPY projects TO '/tmp/x.csv'", "' UNION SELECT * FROM duckdb_settings() --",
]


@pytest.mark.parametrize("nasty", NASTY_STRINGS)
def test_nasty_strings_in_every_input_never_leak_sql_or_internal(stubs: Stubs, nasty: str) -> None:
    existing = stubs.projects.CreateProject(create_request())
    calls = [
        (stubs.projects.GetProject, pb.GetProjectRequest(name=nasty)),
        (stubs.projects.GetProject, pb.GetProjectRequest(name="projects/" + nasty)),
        (stubs.projects.DeleteProject, pb.DeleteProjectRequest(name="projects/" + nasty)),
        (stubs.projects.ListProjects, pb.ListProjectsRequest(page_token=nasty or "x")),
        (stubs.projects.ListProjects, pb.ListProjectsRequest(filter=nasty or "x")),
        (stubs.projects.ListProjects, pb.ListProjectsRequest(order_by=nasty or "x")),
        (stubs.projects.CreateProject, create_request(project_id=nasty or "x")),
        (stubs.projects.CreateProject, create_request(currency_code=nasty, total_amount=nasty, dscr=nasty)),
    ]
    bad_key = pb.CreateProjectRequest()
    bad_key.project.attributes.update({**valid_attributes(), nasty: 1})
    calls.append((stubs.projects.CreateProject, bad_key))
    update = pb.UpdateProjectRequest(update_mask=field_mask_pb2.FieldMask(paths=[f"attributes.{nasty}"]))
    update.project.name = existing.name
    calls.append((stubs.projects.UpdateProject, update))
    for fn, request in calls:
        try:
            fn(request, timeout=10)
        except grpc.RpcError as error:
            from tests.support.rpc import rich_error

            assert_clean(rich_error(error))
    assert count_projects(stubs) == 1
    assert stubs.projects.GetProject(pb.GetProjectRequest(name=existing.name)) == existing


def test_nested_values_are_type_mismatches(stubs: Stubs) -> None:
    request = pb.CreateProjectRequest()
    request.project.attributes.update(valid_attributes(project_name={"a": 1}, description=[1, 2]))
    error = call_error(stubs.projects.CreateProject, request)
    assert error.violations == {"attributes.project_name": "TYPE_MISMATCH", "attributes.description":
                                "TYPE_MISMATCH"}


def test_bad_project_id_is_invalid_argument(stubs: Stubs) -> None:
    error = call_error(stubs.projects.CreateProject, create_request(project_id="not-a-uuid"))
    assert error.violations == {"project_id": "INVALID_FORMAT"}
    assert count_projects(stubs) == 0
    assert uuid  # keep import for readability of ids above
