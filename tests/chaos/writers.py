"""Concurrent writers through every write RPC, and a ledger of what the API acknowledged.

Each writer thread owns the rows it writes (client-chosen ids for creates,
unique `project_name`s for imports), so the ledger knows, per row, the last
acknowledged state and the outcomes of writes that got no clear answer
(in flight at a crash, refused, failed). After a restart `verify` compares
the database, read through the API, with the ledger: an acknowledged state
that is missing or changed is a lost write; a row nobody wrote is a phantom.
"""

from __future__ import annotations

import base64
import random
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import grpc
import pyarrow as pa
from duckdb_spawn.v1 import project_service_pb2 as pb

from tests.chaos.harness import attributes_match
from tests.support.rpc import valid_attributes
from tests.support.servers import Stubs

IMPORT_PREFIX = "import:"
LARGE_DESCRIPTION_BYTES = 60_000  # under MAX_ATTRIBUTE_BYTES (64 KiB)
RPC_TIMEOUT = 30.0

OPERATIONS = ("create", "update", "delete", "batch", "import_struct", "import_arrow")


@dataclass
class Outcome:
    """A possible state of a row after a write without a clear answer."""

    present: bool
    attributes: dict[str, Any] = field(default_factory=dict)

    def matches(self, actual: pb.Project | None) -> bool:
        if not self.present:
            return actual is None
        return actual is not None and attributes_match(actual, self.attributes)


@dataclass
class Track:
    """What the client knows about one row."""

    project: pb.Project | None = None  # last acknowledged state, exactly as the API returned it
    attributes: dict[str, Any] | None = None  # for imported rows (the API returns no Project): what was sent
    acknowledged: bool = False  # some write to the row was acknowledged (else its known state is "absent")
    pending: list[Outcome] = field(default_factory=list)

    def acknowledged_state_holds(self, actual: pb.Project | None) -> bool:
        if self.project is not None:
            return actual == self.project
        if self.attributes is not None:
            return actual is not None and attributes_match(actual, self.attributes)
        return actual is None


class Ledger:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.tracks: dict[str, Track] = {}
        self.acknowledged = 0  # row-level writes acknowledged
        self.codes: Counter[str] = Counter()  # every answer, by status code
        self.anomalies: list[str] = []  # answers that break a promise by themselves

    def expect(self, key: str, outcome: Outcome) -> None:
        with self._lock:
            self.tracks.setdefault(key, Track()).pending.append(outcome)

    def acknowledge(self, key: str, project: pb.Project | None = None,
                    attributes: dict[str, Any] | None = None) -> None:
        with self._lock:
            track = self.tracks.setdefault(key, Track())
            track.project, track.attributes, track.acknowledged = project, attributes, True
            track.pending.clear()
            self.acknowledged += 1

    def answered(self, code: grpc.StatusCode) -> None:
        with self._lock:
            self.codes[code.name] += 1

    def anomaly(self, text: str) -> None:
        with self._lock:
            self.anomalies.append(text)

    def settled(self, key: str) -> pb.Project | None:
        """The row's acknowledged Project when no write to it is pending (a target for updates)."""
        with self._lock:
            track = self.tracks.get(key)
            return track.project if track is not None and not track.pending else None

    def verify(self, projects: list[pb.Project]) -> tuple[int, list[str]]:
        """(lost acknowledged writes, problems) for the database's `projects`; problems are grouped by kind."""
        by_name = {p.name: p for p in projects}
        by_label = {p.attributes["project_name"]: p for p in projects if "project_name" in p.attributes}
        kinds: dict[str, list[str]] = {}
        seen: set[str] = set()
        lost = 0
        for key, track in self.tracks.items():
            if key.startswith(IMPORT_PREFIX):
                actual = by_label.get(key.removeprefix(IMPORT_PREFIX))
            else:
                actual = by_name.get(key)
            if actual is not None:
                seen.add(actual.name)
            if track.acknowledged_state_holds(actual) or any(o.matches(actual) for o in track.pending):
                continue
            if track.acknowledged:
                lost += 1
                if track.project is None and track.attributes is None:
                    kind = "lost: acknowledged deletes undone (the rows are back)"
                elif actual is None:
                    kind = "lost: acknowledged rows missing"
                else:
                    kind = "lost: acknowledged rows changed (an acknowledged update or create not as answered)"
            else:
                kind = "phantom: rows written by calls that were not acknowledged, stored differently than sent"
            kinds.setdefault(kind, []).append(key)
        phantoms = [p.name for p in projects if p.name not in seen]
        if phantoms:
            kinds["phantom: rows nobody wrote"] = phantoms
        return lost, [f"{kind}: {len(keys)}, e.g. {', '.join(keys[:2])}" for kind, keys in kinds.items()]


def large_text(rng: random.Random, size: int = LARGE_DESCRIPTION_BYTES) -> str:
    """Incompressible-looking text (DuckDB's string compression cannot shrink it much)."""
    return base64.b64encode(rng.randbytes(size * 3 // 4)).decode()[:size]


def new_id(rng: random.Random) -> uuid.UUID:
    return uuid.UUID(int=rng.getrandbits(128), version=4)


@dataclass
class WriterPlan:
    """Which operations a writer runs (weights), how large its rows are, when it stops."""

    weights: dict[str, int]
    max_ops: int
    large_share: float = 0.0  # share of rows with a ~60 KB description
    batch_size: int = 3
    import_rows: int = 3
    # Called with the writer and each failed call; returns True to stop the writer.
    stop_on: Callable[[Writer, grpc.RpcError], bool] = lambda writer, error: True


class Writer(threading.Thread):
    """One client thread writing through `stubs` until `stop`, `plan.max_ops` or its stop_on says so."""

    def __init__(self, number: int, stubs: Stubs, ledger: Ledger, plan: WriterPlan, stop: threading.Event,
                 seed: int, tag: str) -> None:
        super().__init__(name=f"chaos-writer-{number}", daemon=True)
        self.number, self.stubs, self.ledger, self.plan, self.stop = number, stubs, ledger, plan, stop
        self.rng = random.Random(seed * 1_000 + number)
        self.tag = f"{tag}-w{number}"
        self.ops = 0
        self.owned: list[str] = []  # keys of rows this writer created with an id
        self.errors: list[tuple[str, grpc.RpcError, float]] = []  # (operation, error, time.monotonic() at its start)
        self.consecutive_failures = 0
        self.crash = ""  # an exception that ended the writer (a bug in the suite, reported as a problem)

    # -- what one row looks like ---------------------------------------------------------------
    def _row_attributes(self, label: str) -> dict[str, Any]:
        large = self.rng.random() < self.plan.large_share
        i = self.rng.randrange(1, 10_000)
        return valid_attributes(
            project_name=label, total_amount=f"{i}.{i % 100:02d}", maturity_years=self.rng.randrange(1, 40),
            status=self.rng.choice(["PROPOSED", "ACTIVE", "COMPLETED"]),
            description=large_text(self.rng) if large else f"small row {label}")

    def _row_label(self, kind: str) -> str:
        return f"{self.tag}-{kind}{self.ops}"

    # -- the operations ------------------------------------------------------------------------
    def _op_create(self) -> None:
        pid = new_id(self.rng)
        attributes = self._row_attributes(self._row_label("c"))
        request = pb.CreateProjectRequest(project_id=str(pid))
        request.project.attributes.update(attributes)
        key = f"projects/{pid}"
        self.owned.append(key)
        self.ledger.expect(key, Outcome(True, attributes))
        project = self.stubs.projects.CreateProject(request, timeout=RPC_TIMEOUT)
        self.ledger.acknowledge(key, project)

    def _row_pick_owned(self) -> tuple[str, pb.Project] | None:
        for _ in range(5):
            if not self.owned:
                return None
            key = self.rng.choice(self.owned)
            project = self.ledger.settled(key)
            if project is not None:
                return key, project
        return None

    def _op_update(self) -> None:
        target = self._row_pick_owned()
        if target is None:
            return self._op_create()
        key, _ = target
        large = self.rng.random() < self.plan.large_share
        patch = {"status": self.rng.choice(["PROPOSED", "ACTIVE", "COMPLETED"]),
                 "description": large_text(self.rng) if large else f"updated {self._row_label('u')}"}
        request = pb.UpdateProjectRequest(project=pb.Project(name=key))
        request.project.attributes.update(patch)
        request.update_mask.paths.extend(f"attributes.{name}" for name in patch)
        self.ledger.expect(key, Outcome(True, patch))
        self.ledger.acknowledge(key, self.stubs.projects.UpdateProject(request, timeout=RPC_TIMEOUT))

    def _op_delete(self) -> None:
        target = self._row_pick_owned()
        if target is None:
            return self._op_create()
        key, _ = target
        self.owned.remove(key)
        self.ledger.expect(key, Outcome(False))
        self.stubs.projects.DeleteProject(pb.DeleteProjectRequest(name=key), timeout=RPC_TIMEOUT)
        self.ledger.acknowledge(key)

    def _op_batch(self) -> None:
        request = pb.BatchCreateProjectsRequest()
        keys = []
        for k in range(self.plan.batch_size):
            pid = new_id(self.rng)
            attributes = self._row_attributes(self._row_label(f"b{k}-"))
            item = request.requests.add(project_id=str(pid))
            item.project.attributes.update(attributes)
            keys.append(f"projects/{pid}")
            self.ledger.expect(keys[-1], Outcome(True, attributes))
        self.owned.extend(keys)
        response = self.stubs.projects.BatchCreateProjects(request, timeout=RPC_TIMEOUT)
        for project in response.projects:
            self.ledger.acknowledge(project.name, project)

    def _op_import(self, arrow: bool) -> None:
        rows = [self._row_attributes(self._row_label(f"i{k}-")) for k in range(self.plan.import_rows)]
        for row in rows:
            self.ledger.expect(IMPORT_PREFIX + row["project_name"], Outcome(True, row))
        message = pb.ImportProjectsRequest(mode=pb.IMPORT_MODE_ATOMIC)
        if arrow:
            message.arrow_ipc = arrow_rows(rows)
        else:
            for row in rows:
                message.struct_rows.rows.add().update(row)
        response = self.stubs.projects.ImportProjects(iter([message]), timeout=RPC_TIMEOUT)
        if response.imported_count == len(rows):
            for row in rows:
                self.ledger.acknowledge(IMPORT_PREFIX + row["project_name"], attributes=row)
        else:
            self.ledger.anomaly(f"an ATOMIC import of {len(rows)} valid rows answered OK with imported_count "
                                f"{response.imported_count}, failed_count {response.failed_count}")

    def run(self) -> None:
        try:
            self._loop()
        except Exception as error:  # noqa: BLE001 - a bug in the suite: reported by the scenario, never lost
            self.crash = f"{type(error).__name__}: {error}"

    def _loop(self) -> None:
        names = list(self.plan.weights)
        weights = [self.plan.weights[n] for n in names]
        while not self.stop.is_set() and self.ops < self.plan.max_ops:
            error = self.one(self.rng.choices(names, weights)[0])
            if error is not None and self.plan.stop_on(self, error):
                return

    def one(self, name: str) -> grpc.RpcError | None:
        """Runs one operation (see OPERATIONS); returns its error, if it failed."""
        operations = {"create": self._op_create, "update": self._op_update, "delete": self._op_delete,
                      "batch": self._op_batch, "import_struct": lambda: self._op_import(False),
                      "import_arrow": lambda: self._op_import(True)}
        self.ops += 1
        started = time.monotonic()
        try:
            operations[name]()
        except grpc.RpcError as error:
            self.ledger.answered(error.code())
            self.errors.append((name, error, started))
            self.consecutive_failures += 1
            return error
        self.ledger.answered(grpc.StatusCode.OK)
        self.consecutive_failures = 0
        return None


def arrow_rows(rows: list[dict[str, Any]]) -> bytes:
    """Rows as an Arrow IPC stream, in the types a client would naturally use."""
    columns: dict[str, Any] = {name: [row[name] for row in rows] for name in rows[0]}
    columns["maturity_years"] = pa.array(columns["maturity_years"], pa.int32())
    table = pa.table(columns)
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue().to_pybytes()


def run_writers(count: int, stubs: Stubs, ledger: Ledger, plan: WriterPlan, stop: threading.Event, seed: int,
                tag: str) -> list[Writer]:
    """Starts `count` writers; returns them (join with `join_writers`)."""
    writers = [Writer(n, stubs, ledger, plan, stop, seed, tag) for n in range(count)]
    for writer in writers:
        writer.start()
    return writers


def join_writers(writers: list[Writer], timeout: float) -> list[Writer]:
    """Joins within one shared deadline; returns the writers still running."""
    deadline = time.monotonic() + timeout
    for writer in writers:
        writer.join(max(0.0, deadline - time.monotonic()))
    return [w for w in writers if w.is_alive()]
