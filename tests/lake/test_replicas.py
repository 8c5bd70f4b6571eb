"""Several service processes on one lake: ids unique across them, nothing acknowledged lost to kill -9,
every replica reading every acknowledged write, readiness following the catalog."""

from __future__ import annotations

import random
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import grpc
import pyarrow as pa
import pytest
from duckdb_spawn.v1 import admin_service_pb2 as admin_pb
from duckdb_spawn.v1 import project_service_pb2 as pb
from grpc_health.v1 import health_pb2

from tests.api.test_export import ipc_bytes, source_rows
from tests.support.auth import with_token
from tests.support.ontology import running_ontology
from tests.support.postgres import PostgresServer
from tests.support.rpc import call_error, create_request
from tests.support.s3 import KEY_ID as S3_KEY_ID
from tests.support.s3 import REGION as S3_REGION
from tests.support.s3 import SECRET as S3_SECRET
from tests.support.s3 import s3_server
from tests.support.servers import ServerProcess, Stubs, base_env, wait_until
from tests.tables.conftest import document

SERVING = health_pb2.HealthCheckResponse.SERVING


@contextmanager
def replica(directory: Path, lake: dict[str, str]) -> Iterator[tuple[ServerProcess, Stubs]]:
    """A service process on the shared lake (anonymous callers are writers by default)."""
    process = ServerProcess(base_env(directory / "local.duckdb", **lake))
    channel = None
    try:
        process.wait_serving()
        channel = grpc.insecure_channel(process.target)
        stubs = Stubs(channel)
        process.wait_ready(stubs, timeout=60)
        yield process, stubs
    finally:
        if channel is not None:
            channel.close()
        process.close()


def create(stubs: Stubs, project_id: str) -> grpc.StatusCode:
    try:
        stubs.projects.CreateProject(create_request(project_id=project_id), timeout=60)
    except grpc.RpcError as error:
        return error.code()
    return grpc.StatusCode.OK


def exported_ids(stubs: Stubs) -> list[str]:
    """Every row, read by a full scan (an Arrow export)."""
    chunks = stubs.projects.ExportProjects(pb.ExportProjectsRequest(format=pb.EXPORT_FORMAT_ARROW_IPC), timeout=120)
    table = pa.ipc.open_stream(b"".join(chunk.data for chunk in chunks)).read_all()
    return [str(value) for value in table.column("project_id").to_pylist()]


def consistent(stubs: Stubs) -> set[str]:
    """The lake's consistency check: the count equals a full scan, and every id is there once."""
    ids = exported_ids(stubs)
    total = stubs.projects.ListProjects(pb.ListProjectsRequest(page_size=1), timeout=60).total_size
    assert total == len(ids), "count(*) equals a full scan"
    assert len(set(ids)) == len(ids), "every id is unique"
    return set(ids)


def test_each_id_is_created_once_across_replicas(tmp_path: Path, lake: dict[str, str]) -> None:
    """1,000 creates spread over two replicas, 50 of their ids raced from both: one of each succeeds."""
    with replica(tmp_path / "a", lake) as (_, a), replica(tmp_path / "b", lake) as (_, b):
        unique = [str(uuid.uuid4()) for _ in range(950)]
        raced = [str(uuid.uuid4()) for _ in range(50)]
        calls = [((a, b)[i % 2], pid, "unique") for i, pid in enumerate(unique)]
        calls += [(side, pid, "raced") for pid in raced for side in (a, b)]
        random.Random(18).shuffle(calls)
        with ThreadPoolExecutor(16) as pool:
            codes = list(pool.map(lambda call: (call[1], call[2], create(call[0], call[1])), calls))
        assert {code for _, kind, code in codes if kind == "unique"} == {grpc.StatusCode.OK}
        for pid in raced:
            outcomes = sorted(code.name for p, _, code in codes if p == pid)
            assert outcomes == ["ALREADY_EXISTS", "OK"], f"{pid}: {outcomes}"
        assert consistent(a) == consistent(b) == set(unique) | set(raced)


def test_acknowledged_writes_survive_a_replica_killed_under_writes(tmp_path: Path, lake: dict[str, str]) -> None:
    """kill -9 of one replica while both take writes, 3 rounds: nothing acknowledged is lost, the survivor
    serves throughout, a replacement serves every row, and the lake stays consistent."""
    acknowledged: set[str] = set()
    with replica(tmp_path / "survivor", lake) as (_, survivor):
        for round_number in range(3):
            kill_under_writes(survivor, tmp_path / f"victim-{round_number}", lake, acknowledged)
        stored = consistent(survivor)
        assert acknowledged <= stored, f"{len(acknowledged - stored)} acknowledged writes lost"
        with replica(tmp_path / "late", lake) as (_, late):  # started after the others wrote
            assert consistent(late) == stored


def kill_under_writes(survivor: Stubs, directory: Path, lake: dict[str, str], acknowledged: set[str]) -> None:
    """Three writers on each replica; the victim is killed (SIGKILL) once both have written."""
    lock = threading.Lock()
    stop = threading.Event()
    survivor_failures: list[str] = []
    start = len(acknowledged)

    def write(stubs: Stubs) -> None:
        for _ in range(2_000):  # bounded; stopped long before
            if stop.is_set():
                return
            pid = str(uuid.uuid4())
            code = create(stubs, pid)
            if code is grpc.StatusCode.OK:
                with lock:
                    acknowledged.add(pid)
            elif stubs is survivor:
                survivor_failures.append(code.name)

    with replica(directory, lake) as (victim_process, victim):
        threads = [threading.Thread(target=write, args=(stubs,)) for stubs in (survivor, victim) * 3]
        for thread in threads:
            thread.start()
        try:
            wait_until(lambda: len(acknowledged) >= start + 60, 60, "writes on both replicas")
            victim_process.kill9()
            killed_at = len(acknowledged)
            wait_until(lambda: len(acknowledged) >= killed_at + 30, 60, "the survivor to keep writing")
        finally:
            stop.set()
            for thread in threads:
                thread.join(60)
    assert not survivor_failures, f"the survivor failed writes: {survivor_failures[:5]}"


def test_readiness_follows_the_catalog(tmp_path: Path, lake: dict[str, str], postgres: PostgresServer) -> None:
    with replica(tmp_path / "a", lake) as (_, stubs):
        assert create(stubs, str(uuid.uuid4())) is grpc.StatusCode.OK
        postgres.stop()
        try:
            wait_until(lambda: _status(stubs) != SERVING, 30, "NOT_SERVING while PostgreSQL is down")
            assert create(stubs, str(uuid.uuid4())) is grpc.StatusCode.UNAVAILABLE
        finally:
            postgres.start()
        wait_until(lambda: _status(stubs) == SERVING, 60, "SERVING once PostgreSQL is back")
        assert create(stubs, str(uuid.uuid4())) is grpc.StatusCode.OK


def _status(stubs: Stubs) -> int:
    try:
        return stubs.health.Check(health_pb2.HealthCheckRequest(), timeout=5).status
    except grpc.RpcError:
        return -1


@pytest.fixture(autouse=True)
def _quick_probes(monkeypatch: pytest.MonkeyPatch) -> None:
    """Readiness probes every half second here (the default is 5 s)."""
    monkeypatch.setenv("HEALTH_PROBE_INTERVAL", "0.5")



def test_etag_updates_and_deletes_from_two_replicas(tmp_path: Path, lake: dict[str, str]) -> None:
    """Two replicas update the same rows with etags and delete others at once: no update is lost (each row's
    counter equals its acknowledged updates), every acknowledged delete holds, the counts stay exact."""
    with replica(tmp_path / "a", lake) as (_, a), replica(tmp_path / "b", lake) as (_, b):
        shared = [str(uuid.uuid4()) for _ in range(4)]
        doomed = [str(uuid.uuid4()) for _ in range(40)]
        for pid in shared + doomed:
            assert create(a, pid) is grpc.StatusCode.OK
        updates = {pid: 0 for pid in shared}
        lock = threading.Lock()

        def bump(stubs: Stubs, seed: int) -> None:
            rng = random.Random(seed)
            for _ in range(15):
                pid = rng.choice(shared)
                for _attempt in range(50):  # bounded: read, then write with the etag read
                    current = stubs.projects.GetProject(pb.GetProjectRequest(name=f"projects/{pid}"), timeout=30)
                    request = pb.UpdateProjectRequest(project=current,
                                                      update_mask={"paths": ["attributes.maturity_years"]})
                    request.project.attributes["maturity_years"] = int(current.attributes["maturity_years"]) + 1
                    try:
                        stubs.projects.UpdateProject(request, timeout=30)
                    except grpc.RpcError as error:
                        assert error.code() in (grpc.StatusCode.ABORTED, grpc.StatusCode.FAILED_PRECONDITION), \
                            f"{error.code()}: {error.details()}"
                        continue
                    with lock:
                        updates[pid] += 1
                    break

        def delete(stubs: Stubs, ids: list[str]) -> None:
            for pid in ids:
                stubs.projects.DeleteProject(pb.DeleteProjectRequest(name=f"projects/{pid}"), timeout=30)

        with ThreadPoolExecutor(6) as pool:
            jobs = [pool.submit(bump, stubs, seed) for seed, stubs in enumerate((a, b, a, b))]
            jobs += [pool.submit(delete, a, doomed[:20]), pool.submit(delete, b, doomed[20:])]
            for job in jobs:
                job.result(timeout=300)
        for stubs in (a, b):
            for pid in shared:
                got = stubs.projects.GetProject(pb.GetProjectRequest(name=f"projects/{pid}"), timeout=30)
                assert int(got.attributes["maturity_years"]) == 15 + updates[pid], "no update lost"
            assert consistent(stubs) == set(shared)


def test_a_request_id_runs_once_across_replicas(tmp_path: Path, lake: dict[str, str]) -> None:
    """The same create, with the same request id, sent to two replicas at once: one project, whichever
    replica answers (a logged write holds the lake's changes lock, so its log lookup sees the other's)."""
    with replica(tmp_path / "a", lake) as (_, a), replica(tmp_path / "b", lake) as (_, b):
        request_ids = [str(uuid.uuid4()) for _ in range(20)]

        def send(stubs: Stubs, request_id: str) -> str:
            request = create_request(project_name=f"once {request_id}")
            request.request_id = request_id
            return stubs.projects.CreateProject(request, timeout=60).name

        with ThreadPoolExecutor(8) as pool:
            names = list(pool.map(lambda job: (job[1], send(*job)),
                                  [(stubs, rid) for rid in request_ids for stubs in (a, b)]))
        for request_id in request_ids:
            answers = {name for rid, name in names if rid == request_id}
            assert len(answers) == 1, f"{request_id}: {answers}"
        assert len(consistent(a)) == len(request_ids), "one project per request id"


def test_an_additive_change_reaches_every_replica_while_they_write(tmp_path: Path, lake: dict[str, str]) -> None:
    """The ontology gains a column while two replicas take writes: no valid write fails, and both
    accept the new column within one cache TTL, without a restart."""
    with running_ontology(tmp_path / "ontology", document("v1")) as ontology:
        env = {**lake, "USE_MOCK_ONTO_SERVER": "false", "ONTO_SERVER_URL": ontology.url, "ONTO_CACHE_TTL": "1",
               "AUTO_MIGRATE": "additive"}
        with replica(tmp_path / "a", env) as (_, a), replica(tmp_path / "b", env) as (_, b):
            failures: list[str] = []
            written = [0]
            stop = threading.Event()

            def write(stubs: Stubs, index: int) -> None:
                for call in range(2_000):  # bounded; stopped long before
                    if stop.is_set():
                        return
                    try:
                        stubs.projects.CreateProject(create_request(project_name=f"w{index}-{call}"), timeout=30)
                        written[0] += 1
                    except grpc.RpcError as error:
                        failures.append(f"{error.code().name}: {error.details()}")

            threads = [threading.Thread(target=write, args=(stubs, i)) for i, stubs in enumerate((a, b) * 2)]
            for thread in threads:
                thread.start()
            try:
                wait_until(lambda: written[0] >= 40, 60, "writes before the change")
                changed_at = time.monotonic()
                ontology.write(document("v2", extra=[{"name": "sponsor", "type": "VARCHAR"}]))
                for stubs in (a, b):
                    wait_until(lambda s=stubs: _takes_sponsor(s), 30, "the new column accepted")
                took = time.monotonic() - changed_at
                before = written[0]
                wait_until(lambda: written[0] >= before + 40, 60, "writes after the change")
            finally:
                stop.set()
                for thread in threads:
                    thread.join(60)
            assert not failures, failures[:5]
            assert took < 1 + 5 + 10, f"the change took {took:.1f}s to reach both replicas"  # TTL, fetch, probes
            assert consistent(a) == consistent(b)


def _takes_sponsor(stubs: Stubs) -> bool:
    try:
        stubs.projects.CreateProject(create_request(project_name="sponsored", sponsor="Bank"), timeout=30)
    except grpc.RpcError as error:
        assert error.code() is grpc.StatusCode.INVALID_ARGUMENT, f"{error.code()}: {error.details()}"
        return False
    return True


def test_one_replica_leads_the_maintenance_and_another_takes_over(tmp_path: Path, lake: dict[str, str]) -> None:
    """Two replicas: one leads and runs maintenance rounds (flushing inlined rows into Parquet); killed, the
    other takes over; the rows stay as they were."""
    env = {**lake, "LAKE_MAINTENANCE_INTERVAL": "1", "LAKE_SNAPSHOT_RETENTION": "0"}
    with replica(tmp_path / "a", env) as (first_process, first), replica(tmp_path / "b", env) as (second_process, _):
        for _ in range(20):
            assert create(first, str(uuid.uuid4())) is grpc.StatusCode.OK
        processes = {"a": first_process, "b": second_process}

        def leaders() -> list[str]:
            return [name for name, process in processes.items()
                    if any(r.get("message") == "leading the lake's maintenance" for r in process.log_records())]

        leader = wait_until(lambda: leaders() or None, 30, "a leader")
        assert len(leader) == 1, leader
        rounds = wait_until(lambda: [r for r in processes[leader[0]].log_records()
                                     if r.get("message") == "lake maintenance done" and r.get("tables_flushed")],
                            30, "a maintenance round that flushed the inlined rows")
        assert rounds
        stored = consistent(first)
        processes[leader[0]].kill9()
        survivor = "b" if leader[0] == "a" else "a"
        wait_until(lambda: survivor in leaders(), 30, "the other replica to take over")
        with replica(tmp_path / "c", env) as (_, late):
            assert consistent(late) == stored


def test_two_replicas_on_a_lake_in_s3(tmp_path: Path, postgres: PostgresServer) -> None:
    """The data path in an S3 endpoint (moto): rows written on one replica are Parquet objects in the
    bucket and read back, whole, on the other."""
    with s3_server() as s3:
        bucket = s3.create_bucket("financing-lake")
        env = {"STORAGE_BACKEND": "ducklake", "LAKE_CATALOG": postgres.conninfo(), "LAKE_METADATA_SCHEMA": "on_s3",
               "LAKE_DATA_PATH": f"s3://{bucket}/projects/", "LAKE_S3_ENDPOINT": s3.endpoint,
               "LAKE_S3_REGION": S3_REGION, "LAKE_S3_ACCESS_KEY_ID": S3_KEY_ID,
               "LAKE_S3_SECRET_ACCESS_KEY": S3_SECRET, "LAKE_S3_URL_STYLE": "path", "LAKE_S3_USE_SSL": "false"}
        with replica(tmp_path / "a", env) as (_, a), replica(tmp_path / "b", env) as (_, b):
            table = source_rows(3_000)
            imported = a.projects.ImportProjects(iter([pb.ImportProjectsRequest(arrow_ipc=ipc_bytes(table))]),
                                                 timeout=120)
            assert imported.imported_count == 3_000
            created = [str(uuid.uuid4()) for _ in range(5)]
            for pid in created:
                assert create(b, pid) is grpc.StatusCode.OK
            assert any(key.endswith(".parquet") for key in s3.list_keys(bucket, "projects/"))
            assert consistent(a) == consistent(b)
            assert len(consistent(b)) == 3_005


def test_the_catalog_password_never_reaches_the_log(tmp_path: Path, postgres: PostgresServer) -> None:
    """DuckDB's attach errors quote the whole connection string: the server logs them without the password."""
    catalog = f"{postgres.conninfo('no_such_database')} password=NeverLogThis42"
    env = {"STORAGE_BACKEND": "ducklake", "LAKE_CATALOG": catalog, "LAKE_DATA_PATH": str(tmp_path / "data")}
    process = ServerProcess(base_env(tmp_path / "a" / "local.duckdb", **env))
    try:
        process.wait_serving()
        wait_until(lambda: [r for r in process.log_records() if r.get("message") == "database not available yet, "
                            "retrying" and "no_such_database" in str(r)], 30, "the attach to fail and be logged")
    finally:
        process.close()
    output = "\n".join(process.lines + process.stderr_lines)
    assert "NeverLogThis42" not in output
    assert "password=***" in output


def test_a_type_change_the_lake_cannot_make_is_refused_cleanly(tmp_path: Path, lake: dict[str, str]) -> None:
    """DuckLake changes a type by promotion, and a narrowing only while the rows are inlined in the catalog:
    an admin's narrowing either applies with the rows intact or is FAILED_PRECONDITION with nothing changed
    and no SQL in the message (never INTERNAL); a promotion (INTEGER to BIGINT) applies."""
    with running_ontology(tmp_path / "ontology", document("v1")) as ontology:
        env = {**lake, "USE_MOCK_ONTO_SERVER": "false", "ONTO_SERVER_URL": ontology.url, "AUTO_MIGRATE": "off"}
        with replica(tmp_path / "a", env) as (process, writer):
            assert create(writer, str(uuid.uuid4())) is grpc.StatusCode.OK
            token = (tmp_path / "a" / "admin.token").read_text().strip()
            stubs = Stubs(with_token(grpc.insecure_channel(process.target), token))
            ontology.write(document("v2", total_amount={"type": "DECIMAL(10,2)"}))
            stubs.admin.RefreshSchemas(admin_pb.RefreshSchemasRequest(), timeout=30)
            before = exported_ids(stubs)
            try:
                stubs.admin.UpdateTable(admin_pb.UpdateTableRequest(name="tables/projects", force=True), timeout=30)
                expected_type = "DECIMAL(10,2)"
            except grpc.RpcError:
                error = call_error(stubs.admin.UpdateTable,
                                   admin_pb.UpdateTableRequest(name="tables/projects", force=True))
                assert error.code is grpc.StatusCode.FAILED_PRECONDITION
                assert error.error_info.reason == "MIGRATION_FAILED"
                assert "ALTER" not in error.message and "DuckDB" not in error.message
                expected_type = "DECIMAL(20,2)"
            table = stubs.admin.GetTable(admin_pb.GetTableRequest(name="tables/projects"), timeout=30)
            assert {c.name: c.type for c in table.columns}["total_amount"] == expected_type
            assert exported_ids(stubs) == before
            ontology.write(document("v3", maturity_years={"type": "BIGINT"}))
            stubs.admin.RefreshSchemas(admin_pb.RefreshSchemasRequest(), timeout=30)
            assert stubs.admin.UpdateTable(admin_pb.UpdateTableRequest(name="tables/projects"), timeout=30).applied


def test_readiness_follows_the_data_path(tmp_path: Path, lake: dict[str, str]) -> None:
    """The lake's files on a volume that goes away (unmounted): NOT_SERVING, and back when it returns."""
    data = Path(lake["LAKE_DATA_PATH"])
    with replica(tmp_path / "a", lake) as (_, stubs):
        assert create(stubs, str(uuid.uuid4())) is grpc.StatusCode.OK
        data.rename(data.with_name("moved-away"))
        try:
            wait_until(lambda: _status(stubs) != SERVING, 30, "NOT_SERVING without the data path")
        finally:
            data.with_name("moved-away").rename(data)
        wait_until(lambda: _status(stubs) == SERVING, 30, "SERVING once the data path is back")


def test_a_watcher_on_one_replica_sees_every_replicas_changes_once_in_order(
        tmp_path: Path, lake: dict[str, str]) -> None:
    """Creates, updates and deletes on two replicas at once; a watcher on the first gets each acknowledged change
    exactly once, in the log's order, and list + watch rebuilds the final state on either replica."""
    from tests.api.test_change_feed import DELETED, UPDATED, Watcher, apply, changes_after, list_all, same_state, update

    with replica(tmp_path / "a", lake) as (_, a), replica(tmp_path / "b", lake) as (_, b):
        listed, position = list_all(a)
        watcher = Watcher(a, start_position=position)
        acknowledged: list[tuple[int, str, str]] = []
        lock = threading.Lock()
        try:
            watcher.next()

            def write(stubs: Stubs, tag: str) -> None:
                for i in range(25):
                    made = stubs.projects.CreateProject(create_request(project_name=f"{tag}{i}"), timeout=60)
                    changes = [(pb.ProjectChange.CHANGE_TYPE_CREATED, made.name, made.etag)]
                    if i % 3 == 1:
                        changed = update(stubs, made, maturity_years=i + 2)
                        changes.append((UPDATED, changed.name, changed.etag))
                    elif i % 3 == 2:
                        stubs.projects.DeleteProject(pb.DeleteProjectRequest(name=made.name, etag=made.etag),
                                                     timeout=60)
                        changes.append((DELETED, made.name, made.etag))
                    with lock:
                        acknowledged.extend(changes)

            with ThreadPoolExecutor(2) as pool:
                for done in [pool.submit(write, a, "a"), pool.submit(write, b, "b")]:
                    done.result(timeout=300)
            final, final_position = list_all(b)
            watcher.until(lambda w: w.position == final_position, timeout=120)
        finally:
            watcher.close()
        delivered = [(c.change_type, c.project.name, c.project.etag) for c in watcher.changes]
        assert sorted(delivered) == sorted(acknowledged), "every acknowledged change once, from both replicas"
        for name in {entry[1] for entry in acknowledged}:
            assert [d for d in delivered if d[1] == name] == [e for e in acknowledged if e[1] == name]
        assert [c.position for c in changes_after(b, position)[0]] == [c.position for c in watcher.changes]
        rebuilt = dict(listed)
        apply(rebuilt, watcher.changes)
        same_state(rebuilt, final)
