"""UpdateProject masks (AIP-161): `attributes` and `*` replace the whole map, re-validated."""

from __future__ import annotations

import grpc
import pytest
from duckdb_spawn.v1 import project_service_pb2 as pb
from google.protobuf import field_mask_pb2

from tests.support.rpc import call_error, create_request, valid_attributes
from tests.support.servers import Stubs


@pytest.mark.parametrize("path", ["attributes", "*"])
def test_replacing_the_whole_map_clears_what_is_not_sent(stubs: Stubs, path: str) -> None:
    created = stubs.projects.CreateProject(create_request(status="ACTIVE", currency_code="EUR"))
    request = pb.UpdateProjectRequest(update_mask=field_mask_pb2.FieldMask(paths=[path]))
    request.project.name = created.name
    replacement = valid_attributes(project_name="replaced", description=..., status=..., currency_code=...)
    request.project.attributes.update(replacement)
    updated = stubs.projects.UpdateProject(request)
    assert updated.attributes["project_name"] == "replaced"
    assert updated.attributes["description"] is None  # not sent: cleared
    assert updated.attributes["status"] == "PROPOSED"  # not sent: back to the schema's default
    assert updated.attributes["currency_code"] == "USD"
    assert updated.attributes["project_id"] == created.attributes["project_id"]  # server-managed: kept
    assert updated.attributes["creation_date"] == created.attributes["creation_date"]
    assert stubs.projects.GetProject(pb.GetProjectRequest(name=created.name)) == updated


@pytest.mark.parametrize("path", ["attributes", "*"])
def test_a_replacement_missing_required_fields_is_rejected_whole(stubs: Stubs, path: str) -> None:
    created = stubs.projects.CreateProject(create_request())
    request = pb.UpdateProjectRequest(update_mask=field_mask_pb2.FieldMask(paths=[path]))
    request.project.name = created.name
    request.project.attributes.update({"project_name": "only a name"})
    error = call_error(stubs.projects.UpdateProject, request)
    assert error.code == grpc.StatusCode.INVALID_ARGUMENT
    assert error.violations == {f"attributes.{f}": "REQUIRED"
                                for f in ("total_amount", "maturity_years", "expected_tri", "dscr")}
    assert stubs.projects.GetProject(pb.GetProjectRequest(name=created.name)) == created
