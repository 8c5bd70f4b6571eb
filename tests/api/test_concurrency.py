"""Etags under concurrency (AIP-154): of two writers holding the same etag, exactly one wins."""

from __future__ import annotations

import threading
from pathlib import Path

import grpc
from duckdb_spawn.v1 import project_service_pb2 as pb
from google.protobuf import field_mask_pb2

from tests.support.rpc import RichError, call_error, create_request, rich_error
from tests.support.servers import Stubs, in_process_server


def update_request(project: pb.Project, amount: str, etag: str) -> pb.UpdateProjectRequest:
    request = pb.UpdateProjectRequest(update_mask=field_mask_pb2.FieldMask(paths=["attributes.total_amount"]))
    request.project.name = project.name
    request.project.etag = etag
    request.project.attributes.update({"total_amount": amount})
    return request


def race_once(stubs: Stubs, other: Stubs, round_number: int) -> None:
    """Two clients update one project with the same etag at the same moment."""
    project = stubs.projects.CreateProject(create_request(project_name=f"race {round_number}"))
    barrier = threading.Barrier(2)
    outcomes: dict[str, object] = {}

    def client(name: str, client_stubs: Stubs, amount: str) -> None:
        barrier.wait(10)
        try:
            outcomes[name] = client_stubs.projects.UpdateProject(update_request(project, amount, project.etag),
                                                                 timeout=30)
        except grpc.RpcError as error:
            outcomes[name] = rich_error(error)

    threads = [threading.Thread(target=client, args=("a", stubs, "111.11")),
               threading.Thread(target=client, args=("b", other, "222.22"))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    winners = [v for v in outcomes.values() if isinstance(v, pb.Project)]
    losers = [v for v in outcomes.values() if isinstance(v, RichError)]
    assert len(winners) == 1 and len(losers) == 1, outcomes
    assert losers[0].code == grpc.StatusCode.ABORTED
    assert losers[0].error_info is not None and losers[0].error_info.reason == "ETAG_MISMATCH"
    stored = stubs.projects.GetProject(pb.GetProjectRequest(name=project.name))
    assert stored == winners[0]
    assert stored.attributes["total_amount"] in ("111.11", "222.22")


def test_two_clients_with_the_same_etag_exactly_one_wins(tmp_path: Path) -> None:
    with in_process_server(tmp_path / "race.duckdb") as (server, stubs):
        other = Stubs(grpc.insecure_channel(server.target))  # a second client, its own connection
        try:
            for round_number in range(15):  # bounded; every round is a real race between two clients
                race_once(stubs, other, round_number)
        finally:
            other.channel.close()


def test_concurrent_updates_without_etag_lose_nothing(stubs: Stubs) -> None:
    """Without an etag each update re-reads and retries, so every field written survives."""
    project = stubs.projects.CreateProject(create_request())
    fields = {"project_name": "renamed", "description": "new text", "total_amount": "5.00", "dscr": "2.00",
              "expected_tri": "9.99", "status": "COMPLETED", "currency_code": "JPY", "maturity_years": 30}
    barrier = threading.Barrier(len(fields))
    errors: list[Exception] = []

    def set_field(name: str, value: object) -> None:
        barrier.wait(10)
        request = pb.UpdateProjectRequest(update_mask=field_mask_pb2.FieldMask(paths=[f"attributes.{name}"]))
        request.project.name = project.name
        request.project.attributes.update({name: value})
        try:
            stubs.projects.UpdateProject(request, timeout=30)
        except grpc.RpcError as error:  # pragma: no cover - reported below
            errors.append(error)

    threads = [threading.Thread(target=set_field, args=item) for item in fields.items()]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not errors
    final = stubs.projects.GetProject(pb.GetProjectRequest(name=project.name))
    assert {k: final.attributes[k] for k in fields} == fields


def test_stale_etags_are_aborted_on_update_and_delete(stubs: Stubs) -> None:
    project = stubs.projects.CreateProject(create_request())
    updated = stubs.projects.UpdateProject(update_request(project, "1.00", project.etag))
    stale = call_error(stubs.projects.UpdateProject, update_request(project, "2.00", project.etag))
    assert stale.code == grpc.StatusCode.ABORTED and stale.error_info.reason == "ETAG_MISMATCH"
    gone = call_error(stubs.projects.DeleteProject, pb.DeleteProjectRequest(name=project.name, etag=project.etag))
    assert gone.code == grpc.StatusCode.ABORTED
    assert stubs.projects.GetProject(pb.GetProjectRequest(name=project.name)) == updated
    stubs.projects.DeleteProject(pb.DeleteProjectRequest(name=project.name, etag=updated.etag))
    assert call_error(stubs.projects.GetProject, pb.GetProjectRequest(name=project.name)).code == \
        grpc.StatusCode.NOT_FOUND
