"""A full disk never loses an acknowledged write (issue: data safety, point 1).

The database lives on a small tmpfs that the test fills. With a free-space
reserve (DISK_FREE_RESERVE), every write RPC is refused with UNAVAILABLE
(LOW_DISK_SPACE, RetryInfo) before the volume is full, reads go on,
readiness stays SERVING, GetHealth says why, and writes resume by
themselves once space is freed. With no reserve, DuckDB's own failures are
reported (UNAVAILABLE, never INTERNAL, never a false acknowledgement), an
invalidated database fails readiness and liveness, and a restart finds
every acknowledged write.
"""

from __future__ import annotations

import io
import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import grpc
import pyarrow as pa
import pytest
from duckdb_spawn.v1 import admin_service_pb2 as admin_pb
from duckdb_spawn.v1 import monitoring_service_pb2 as monitoring_pb
from duckdb_spawn.v1 import project_service_pb2 as pb
from duckdb_spawn_server.ontology.mock import MOCK_SCHEMAS
from grpc_health.v1 import health_pb2

from tests.support.rpc import call_error, create_request, rich_error, valid_attributes
from tests.support.servers import ServerProcess, Stubs, base_env, in_process_server, wait_until
from tests.support.tmpfs import fill, free_bytes, tmpfs

BIG = "d" * 60_000
SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING
REFUSALS = ("LOW_DISK_SPACE", "DATABASE_INVALIDATED")


def ipc(rows: list[dict[str, object]]) -> bytes:
    table = pa.Table.from_pylist(rows)
    sink = io.BytesIO()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue()


def struct_import(names: list[str], description: str) -> Iterator[pb.ImportProjectsRequest]:
    message = pb.ImportProjectsRequest(mode=pb.IMPORT_MODE_ATOMIC)
    for name in names:
        message.struct_rows.rows.add().update(valid_attributes(project_name=name, description=description))
    yield message


def arrow_import(names: list[str], description: str) -> Iterator[pb.ImportProjectsRequest]:
    rows = [{**valid_attributes(project_name=name, description=description), "maturity_years": 10} for name in names]
    yield pb.ImportProjectsRequest(mode=pb.IMPORT_MODE_ATOMIC, arrow_ipc=ipc(rows))


def assert_refused_for_disk(error: grpc.RpcError) -> None:
    rich = rich_error(error)
    assert rich.code == grpc.StatusCode.UNAVAILABLE, (rich.code, rich.message)
    assert rich.error_info is not None and rich.error_info.reason in REFUSALS, rich.error_info
    assert rich.retry_info is not None


def test_below_the_reserve_every_write_is_refused_reads_go_on_and_writes_resume(tmp_path: Path) -> None:
    with tmpfs(tmp_path / "volume", 32) as volume, \
            in_process_server(volume / "data.duckdb", DISK_FREE_RESERVE="8MiB") as (_server, stubs):
        kept = stubs.projects.CreateProject(create_request(project_name="kept"))
        fill(volume / "filler", leave_bytes=4 << 20)  # below the 8 MiB reserve, far from full
        writes: dict[str, Callable[[], object]] = {
            "CreateProject": lambda: stubs.projects.CreateProject(create_request(project_name="refused")),
            "BatchCreateProjects": lambda: stubs.projects.BatchCreateProjects(pb.BatchCreateProjectsRequest(
                requests=[create_request(project_name="refused batch")])),
            "ImportProjects (Struct)": lambda: stubs.projects.ImportProjects(struct_import(["refused"], "x")),
            "ImportProjects (Arrow)": lambda: stubs.projects.ImportProjects(arrow_import(["refused"], "x")),
            "UpdateProject": lambda: stubs.projects.UpdateProject(pb.UpdateProjectRequest(project=pb.Project(
                name=kept.name, attributes={"status": "COMPLETED"}))),
            "DeleteProject": lambda: stubs.projects.DeleteProject(pb.DeleteProjectRequest(name=kept.name)),
            "UpdateTable": lambda: stubs.admin.UpdateTable(admin_pb.UpdateTableRequest(
                name="tables/projects", schema_json=added_column_schema())),
            "DeleteTable": lambda: stubs.admin.DeleteTable(admin_pb.DeleteTableRequest(name="tables/projects",
                                                                                        force=True)),
        }
        for rpc, write in writes.items():
            refused = call_error(write)
            assert refused.code == grpc.StatusCode.UNAVAILABLE, (rpc, refused.code, refused.message)
            assert refused.error_info is not None and refused.error_info.reason == "LOW_DISK_SPACE", rpc
            assert refused.retry_info is not None and refused.retry_info.retry_delay.seconds > 0, rpc
            assert refused.error_info.metadata["variable"] == "DISK_FREE_RESERVE"

        # Reads go on, readiness stays SERVING, GetHealth says why.
        assert stubs.projects.GetProject(pb.GetProjectRequest(name=kept.name)) == kept
        assert stubs.projects.ListProjects(pb.ListProjectsRequest()).total_size == 1
        assert b"kept" in b"".join(c.data for c in stubs.projects.ExportProjects(
            pb.ExportProjectsRequest(format=pb.EXPORT_FORMAT_CSV)))
        assert stubs.health_status() == SERVING
        disk = next(c for c in stubs.monitoring.GetHealth(monitoring_pb.GetHealthRequest()).checks if c.name == "disk")
        assert disk.status == monitoring_pb.HEALTH_STATUS_UNHEALTHY and "writes refused" in disk.message

        # Space comes back: writes resume with no restart.
        (volume / "filler").unlink()
        created = stubs.projects.CreateProject(create_request(project_name="after"))
        stubs.projects.ImportProjects(arrow_import(["after import"], "x"))
        stubs.projects.DeleteProject(pb.DeleteProjectRequest(name=kept.name))
        assert stubs.projects.ListProjects(pb.ListProjectsRequest()).total_size == 2
        assert stubs.projects.GetProject(pb.GetProjectRequest(name=created.name)) == created
        disk = next(c for c in stubs.monitoring.GetHealth(monitoring_pb.GetHealthRequest()).checks if c.name == "disk")
        assert disk.status != monitoring_pb.HEALTH_STATUS_UNHEALTHY


def added_column_schema() -> str:
    document = json.loads(json.dumps(MOCK_SCHEMAS["project_schema"]))
    document["columns"].append({"name": "region", "type": "VARCHAR"})
    return json.dumps(document)


@dataclass
class Ledger:
    """What the API acknowledged: the state every restart must show."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    created: dict[str, str] = field(default_factory=dict)  # project_name -> description
    names: dict[str, str] = field(default_factory=dict)  # resource name -> project_name
    deleted: set[str] = field(default_factory=set)  # project_names
    refused_names: set[str] = field(default_factory=set)  # creates refused: must not exist
    refusals: int = 0
    acknowledged: int = 0  # writes of any kind
    other_errors: list[str] = field(default_factory=list)


def workload(stubs: Stubs, ledger: Ledger, phase: str, worker: int, stop: threading.Event, deadline: float,
             kinds: int) -> None:
    """The first `kinds` of: create, batch, import (Struct, Arrow), update, delete; small and large rows."""
    step = 0
    while not stop.is_set() and time.monotonic() < deadline:
        step += 1
        tag = f"{phase}.w{worker}.{step}"
        description = BIG if step % 2 or kinds == 1 else "small"
        kind = step % kinds
        names = [f"{tag}-{k}" for k in range(3 if kind in (1, 2, 3) else 1)]
        try:
            if kind == 0:
                project = stubs.projects.CreateProject(create_request(project_name=names[0], description=description),
                                                       timeout=30)
                with ledger.lock:
                    ledger.names[project.name] = names[0]
            elif kind == 1:
                batch = stubs.projects.BatchCreateProjects(pb.BatchCreateProjectsRequest(requests=[
                    create_request(project_name=n, description=description) for n in names]), timeout=30)
                with ledger.lock:
                    ledger.names.update(zip((p.name for p in batch.projects), names, strict=True))
            elif kind == 2:
                assert stubs.projects.ImportProjects(struct_import(names, description), timeout=30).imported_count == 3
            elif kind == 3:
                assert stubs.projects.ImportProjects(arrow_import(names, description), timeout=30).imported_count == 3
            elif kind in (4, 5):
                with ledger.lock:  # its own projects only: concurrent updates of one row would race in the ledger
                    known = [(n, p) for n, p in ledger.names.items()
                             if p.split(".")[1] == f"w{worker}" and p not in ledger.deleted]
                if not known:
                    continue
                resource, project_name = known[(worker * 7 + step) % len(known)]
                if kind == 4:
                    updated = f"updated {tag} " + description
                    stubs.projects.UpdateProject(pb.UpdateProjectRequest(project=pb.Project(
                        name=resource, attributes={"description": updated})), timeout=30)
                    with ledger.lock:
                        ledger.acknowledged += 1
                        if project_name not in ledger.deleted:
                            ledger.created[project_name] = updated
                else:
                    stubs.projects.DeleteProject(pb.DeleteProjectRequest(name=resource), timeout=30)
                    with ledger.lock:
                        ledger.acknowledged += 1
                        ledger.deleted.add(project_name)
                continue
            with ledger.lock:
                ledger.acknowledged += 1
                for name in names:
                    ledger.created[name] = description
        except grpc.RpcError as error:
            rich = rich_error(error)
            with ledger.lock:
                if rich.code == grpc.StatusCode.UNAVAILABLE and rich.error_info is not None \
                        and rich.error_info.reason in REFUSALS:
                    ledger.refusals += 1
                    if kind in (0, 1, 2, 3):
                        ledger.refused_names.update(names)
                else:
                    ledger.other_errors.append(f"{rich.code.name}: {rich.message[:200]}")


def stored_projects(stubs: Stubs) -> dict[str, str]:
    """project_name -> description of every stored project, read through an Arrow export."""
    data = b"".join(c.data for c in stubs.projects.ExportProjects(
        pb.ExportProjectsRequest(format=pb.EXPORT_FORMAT_ARROW_IPC), timeout=60))
    table = pa.ipc.open_stream(data).read_all()
    return dict(zip(table.column("project_name").to_pylist(), table.column("description").to_pylist(), strict=True))


def start(db: Path, **env: str) -> tuple[ServerProcess, Stubs]:
    server = ServerProcess(base_env(db, **env))
    server.wait_serving()
    stubs = Stubs(grpc.insecure_channel(server.target))
    server.wait_ready(stubs)
    return server, stubs


def run_writers(stubs: Stubs, ledger: Ledger, phase: str, until: Callable[[], bool], seconds: float,
                kinds: int = 6) -> None:
    stop = threading.Event()
    deadline = time.monotonic() + seconds
    threads = [threading.Thread(target=workload, args=(stubs, ledger, phase, n, stop, deadline, kinds))
               for n in range(8)]
    for thread in threads:
        thread.start()
    try:
        wait_until(lambda: until() or time.monotonic() > deadline, seconds + 5, "the writers' goal")
    finally:
        stop.set()
        for thread in threads:
            thread.join(60)


def check_ledger(stubs: Stubs, ledger: Ledger) -> None:
    stored = stored_projects(stubs)
    expected = {name: text for name, text in ledger.created.items() if name not in ledger.deleted}
    missing = [name for name in expected if name not in stored]
    assert not missing, f"{len(missing)} of {len(expected)} acknowledged projects are gone, e.g. {missing[:3]}"
    wrong = [name for name, text in expected.items() if stored[name] != text]
    assert not wrong, f"{len(wrong)} projects lost an acknowledged update, e.g. " + \
        "; ".join(f"{n}: stored {stored[n][:30]!r} acknowledged {expected[n][:30]!r}" for n in wrong[:3])
    back = [name for name in ledger.deleted if name in stored]
    assert not back, f"acknowledged deletes came back: {back[:3]}"
    ghosts = [name for name in ledger.refused_names if name in stored]
    assert not ghosts, f"refused creates were stored: {ghosts[:3]}"


@pytest.mark.slow
def test_every_acknowledged_write_survives_a_full_disk_and_a_restart(tmp_path: Path) -> None:
    with tmpfs(tmp_path / "volume", 24) as volume:
        db = volume / "data.duckdb"
        fill(volume / "filler", leave_bytes=14 << 20)  # freed later: the space that "comes back"
        server, stubs = start(db, DISK_FREE_RESERVE="4MiB")
        ledger = Ledger()
        try:
            run_writers(stubs, ledger, "filling", lambda: ledger.refusals >= 40, seconds=90)
            assert ledger.refusals >= 40, f"the volume never filled: {ledger.refusals} refusals"
            assert not ledger.other_errors, ledger.other_errors[:5]
            assert free_bytes(volume) > 1 << 20, "the reserve was not kept"
            assert stubs.health_status() == SERVING  # reads are served
            check_ledger(stubs, ledger)

            (volume / "filler").unlink()
            before = ledger.acknowledged
            run_writers(stubs, ledger, "freed", lambda: ledger.acknowledged >= before + 30, seconds=60)
            assert ledger.acknowledged >= before + 30, "writes did not resume once space came back"
            assert not ledger.other_errors, ledger.other_errors[:5]
            server.kill9()
        finally:
            server.close()

        server, stubs = start(db, DISK_FREE_RESERVE="4MiB")
        try:
            check_ledger(stubs, ledger)
        finally:
            server.close()


@pytest.mark.slow
def test_without_a_reserve_duckdb_failures_are_unavailable_and_an_invalidated_database_restarts_whole(
        tmp_path: Path) -> None:
    """No guard: the WAL fills the volume, the checkpoint cannot be written and DuckDB invalidates the database.

    Large creates only: they go to the WAL until it reaches DuckDB's 16 MiB
    checkpoint threshold on this 20 MB volume, and the checkpoint then needs
    more room than is left.
    """
    with tmpfs(tmp_path / "volume", 20) as volume:
        db = volume / "data.duckdb"
        fill(volume / "filler", leave_bytes=19 << 20)  # freed before the restart
        server, stubs = start(db, DISK_FREE_RESERVE="0")
        ledger = Ledger()
        try:
            run_writers(stubs, ledger, "filling", lambda: ledger.refusals >= 20, seconds=90, kinds=1)
            assert ledger.refusals >= 20 and not ledger.other_errors, (ledger.refusals, ledger.other_errors[:5])
            # The checkpoint that met the full disk invalidated the database: the pod must be restarted.
            wait_until(lambda: stubs.health_status("liveness") == NOT_SERVING, 10, "liveness NOT_SERVING")
            assert stubs.health_status() == NOT_SERVING
            refused = call_error(stubs.projects.CreateProject, create_request(project_name=str(uuid.uuid4())))
            assert refused.code == grpc.StatusCode.UNAVAILABLE
            assert refused.error_info is not None and refused.error_info.reason == "DATABASE_INVALIDATED"
            database = next(c for c in stubs.monitoring.GetHealth(monitoring_pb.GetHealthRequest()).checks
                            if c.name == "database")
            assert database.status == monitoring_pb.HEALTH_STATUS_UNHEALTHY and "invalidated" in database.message
            server.kill9()
        finally:
            server.close()

        (volume / "filler").unlink()
        server, stubs = start(db, DISK_FREE_RESERVE="0")
        try:
            assert stubs.health_status("liveness") == SERVING
            check_ledger(stubs, ledger)
        finally:
            server.close()


def test_reads_leave_no_transaction_open_so_the_wal_keeps_being_checkpointed(tmp_path: Path) -> None:
    """A read that stopped at its first row left its transaction open on its pooled connection, and DuckDB
    then skipped every automatic checkpoint: the WAL grew without bound, past any reserve. Each kind of
    read (start-up's included) is followed by writes alone, so a leak cannot be covered by later reads."""
    db = tmp_path / "data.duckdb"
    wal = Path(f"{db}.wal")
    with in_process_server(db, DISK_FREE_RESERVE="4MiB") as (_, stubs):  # a checkpoint at every 1 MiB of WAL
        first = stubs.projects.CreateProject(create_request(project_name="first"))
        reads = {
            "start-up": lambda: None,
            "GetProject": lambda: stubs.projects.GetProject(pb.GetProjectRequest(name=first.name)),
            "ListProjects": lambda: stubs.projects.ListProjects(pb.ListProjectsRequest(filter='status = "ACTIVE"')),
            "GetTable": lambda: stubs.admin.GetTable(admin_pb.GetTableRequest(name="tables/projects")),
            "GetHealth": lambda: stubs.monitoring.GetHealth(monitoring_pb.GetHealthRequest()),
            "GetSystemMetrics": lambda: stubs.monitoring.GetSystemMetrics(monitoring_pb.GetSystemMetricsRequest()),
            "SummarizeProjects": lambda: stubs.projects.SummarizeProjects(pb.SummarizeProjectsRequest(
                aggregations=[pb.Aggregation(function=pb.AGGREGATE_FUNCTION_COUNT)])),
        }
        for what, read in reads.items():
            read()
            for i in range(40):  # ~2.4 MB of WAL: past the threshold twice over
                stubs.projects.CreateProject(create_request(project_name=f"{what} {i}", description=BIG))
            size = wal.stat().st_size if wal.exists() else 0
            assert size < 2 << 20, f"after {what}, the WAL holds {size} bytes: automatic checkpoints stopped"
