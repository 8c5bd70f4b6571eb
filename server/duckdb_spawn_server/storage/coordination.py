"""What the replicas of one lake agree on through its PostgreSQL: unique ids, one changer at a time.

**Ids.** Each project id is claimed in PostgreSQL before its lake insert.

DuckLake has no PRIMARY KEY, and two replicas inserting the same id would both
commit. So before a lake insert the writer claims the rows' ids in a table of
the catalog's PostgreSQL database, whose primary key settles every race:

    claim (INSERT ... ON CONFLICT DO NOTHING, state pending)
      -> the lake insert commits -> the claims are marked committed
      -> or it rolls back -> this replica's pending claims are deleted.

An id already claimed is refused with DuckDB's own duplicate-key error (the
callers' translation gives ALREADY_EXISTS), unless its claim is pending and
stale: a replica died between its lake commit and the marking, or before
committing at all. Such a claim is repaired by looking in the lake: the row is
there (the claim becomes committed: a duplicate) or it is not (the claim is
taken over). A background pass repairs stale claims the same way, so a crash
at any step leaves no id unusable and no id twice.

**Changes.** DuckLake refuses to commit an UPDATE or DELETE when another
transaction changed the same table meanwhile, and concurrent deletes that
write Parquet delete files have corrupted a table in our probes. So a
transaction that updates or deletes holds a PostgreSQL advisory lock (one per
lake) from before it begins until it has committed or rolled back: changes are
serialised across replicas, appends are not. Writes that carry an AIP-155
request id take it too (they are not plain appends): the log lookup then sees
every entry another replica committed, so a request id runs once across the
replicas. The lock is a session lock: a replica that dies releases it with
its connection.

Only this replica's writer thread claims and locks; its PostgreSQL connection
is its own (one per thread).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import threading
import uuid
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from typing import Any

import duckdb
import psycopg
import pyarrow as pa
import pyarrow.compute as pc

from ..domain.errors import Unavailable

log = logging.getLogger(__name__)

STALE_AFTER_SECONDS = 30.0
REPAIR_INTERVAL_SECONDS = 10.0
CLAIMS_TABLE = "duckdb_spawn_key_claims"
HEAD_TABLE = "duckdb_spawn_change_head"  # the change log's latest position and commit time (one row)

# Looks an id up in the lake: True when its row is there (`table` is the lake table's name).
LakeLookup = Callable[[str, str, str], bool]


class LakeCoordinator:
    def __init__(self, conninfo: str, schema: str, lookup: LakeLookup, *,
                 stale_after: float = STALE_AFTER_SECONDS) -> None:
        self._conninfo = conninfo
        self._table = f'"{schema}".{CLAIMS_TABLE}'  # schema: a validated identifier (config.py)
        self._head_table = f'"{schema}".{HEAD_TABLE}'
        self._schema = schema
        self._lookup = lookup
        self._stale_after = stale_after
        self.owner = f"{os.uname().nodename}:{os.getpid()}:{uuid.uuid4().hex[:8]}"  # this process, this start
        self._connections = threading.local()
        self._pending: list[tuple[str, str]] = []  # claimed by the open lake transaction
        self._locked = False  # the changes lock is held (until the transaction ends)
        self._lock_key = advisory_key(schema, "changes")
        self._stopped = threading.Event()
        self._repairer: threading.Thread | None = None

    # -- the writer's side -----------------------------------------------------------
    def begin(self, changes: bool) -> None:
        """A writer transaction is about to begin; `changes`: it updates or deletes (not only appends)."""
        if changes:
            with self._catalog_errors():
                self._connection().execute("SELECT pg_advisory_lock(%s)", [self._lock_key])
                self._locked = True

    def claim(self, con: duckdb.DuckDBPyConnection, table: str, column: str, rows: pa.Table) -> None:
        """Claims the ids of rows about to be inserted into `table`; raises on a duplicate."""
        ids = rows.column(column)
        if pc.count_distinct(ids).as_py() < len(ids):
            counts = pc.value_counts(ids)
            raise duplicate(column, counts.filter(pc.greater(counts.field("counts"), 1))[0]["values"].as_py())
        keys = [str(value) for value in ids.to_pylist()]
        with self._catalog_errors():
            pg = self._connection()
            got = {row[0] for row in pg.execute(
                f"INSERT INTO {self._table} (table_name, key, state, owner) "
                "SELECT %s, key, 'pending', %s FROM unnest(%s::text[]) AS key "
                "ON CONFLICT (table_name, key) DO NOTHING RETURNING key", [table, self.owner, keys]).fetchall()}
            self._pending += [(table, key) for key in got]
            for key in keys:
                if key not in got:
                    self._contest(pg, table, column, key)

    def _contest(self, pg: psycopg.Connection[Any], table: str, column: str, key: str) -> None:
        """`key` is claimed already: a duplicate, unless the claim is a stale leftover the lake disowns."""
        row = pg.execute(f"SELECT state, owner, extract(epoch FROM now() - claimed_at) FROM {self._table} "
                         "WHERE table_name = %s AND key = %s", [table, key]).fetchone()
        if row is None:  # released meanwhile: claim it afresh
            pg.execute(f"INSERT INTO {self._table} (table_name, key, state, owner) VALUES (%s, %s, 'pending', %s)",
                       [table, key, self.owner])
            self._pending.append((table, key))
            return
        state, owner, age = row
        if state == "committed" or (owner != self.owner and float(age) < self._stale_after):
            raise duplicate(column, key)
        if self._lookup(table, column, key):  # the insert that claimed it did commit
            self._mark_committed(pg, [(table, key)])
            raise duplicate(column, key)
        pg.execute(f"UPDATE {self._table} SET owner = %s, claimed_at = now() WHERE table_name = %s AND key = %s",
                   [self.owner, table, key])
        self._pending.append((table, key))

    def committed(self) -> None:
        """The lake transaction committed: its claims are settled, the changes lock released."""
        self._unlock()
        pending, self._pending = self._pending, []
        if pending:
            try:
                self._mark_committed(self._connection(), pending)
            except psycopg.Error as error:  # the repair pass finds the rows in the lake later
                log.warning("could not mark claims committed: %s", type(error).__name__)
                self._drop_connection()

    def rolled_back(self) -> None:
        """The lake transaction rolled back: its claims and the changes lock are released."""
        self._unlock()
        pending, self._pending = self._pending, []
        if pending:
            try:
                self._connection().execute(
                    f"DELETE FROM {self._table} WHERE owner = %s AND state = 'pending' AND (table_name, key) IN "
                    "(SELECT * FROM unnest(%s::text[], %s::text[]))",
                    [self.owner, [t for t, _ in pending], [k for _, k in pending]])
            except psycopg.Error as error:  # stale claims are repaired later
                log.warning("could not release claims: %s", type(error).__name__)
                self._drop_connection()

    def _unlock(self) -> None:
        if not self._locked:
            return
        self._locked = False
        try:
            self._connection().execute("SELECT pg_advisory_unlock(%s)", [self._lock_key])
        except psycopg.Error:  # a dropped connection has released it
            self._drop_connection()

    def _mark_committed(self, pg: psycopg.Connection[Any], claims: Sequence[tuple[str, str]]) -> None:
        pg.execute(f"UPDATE {self._table} SET state = 'committed' WHERE (table_name, key) IN "
                   "(SELECT * FROM unnest(%s::text[], %s::text[]))",
                   [[t for t, _ in claims], [k for _, k in claims]])

    # -- change-log positions (storage/change_log.py), under the changes lock ----------------
    def reserve_positions(self, head: int, now: datetime) -> tuple[int, datetime]:
        """The latest position any replica handed out and a commit time not before its; `head` and
        `now`: what this replica knows (the lake's latest, its clock)."""
        with self._catalog_errors():
            pg = self._connection()
            pg.execute(f"INSERT INTO {self._head_table} VALUES (1, %s, %s) ON CONFLICT (id) DO NOTHING", [head, now])
            row = pg.execute(f"SELECT position, commit_time FROM {self._head_table} WHERE id = 1").fetchone()
        return max(head, int(row[0])), max(now, row[1])

    def advance_positions(self, position: int, commit_time: datetime) -> None:
        """Recorded before the lake commit: a crash after it leaves a gap, never a position used twice."""
        with self._catalog_errors():
            self._connection().execute(f"UPDATE {self._head_table} SET position = %s, commit_time = %s WHERE id = 1",
                                       [position, commit_time])

    def forget(self, table: str) -> None:
        """The table was dropped: its ids are free again."""
        with self._catalog_errors():
            self._connection().execute(f"DELETE FROM {self._table} WHERE table_name = %s", [table])

    # -- the repair pass ----------------------------------------------------------------
    def start(self) -> None:
        self._repairer = threading.Thread(target=self._repair_loop, name="claims-repair", daemon=True)
        self._repairer.start()

    def stop(self) -> None:
        self._stopped.set()
        if self._repairer is not None:
            self._repairer.join(timeout=5)
        self._drop_connection()

    def _repair_loop(self) -> None:
        while not self._stopped.wait(REPAIR_INTERVAL_SECONDS):
            try:
                self.repair_stale()
            except Exception as error:  # noqa: BLE001 - tried again at the next interval
                log.warning("claims repair failed: %s", type(error).__name__)
                self._drop_connection()

    def repair_stale(self, column_of: Callable[[str], str] = lambda _: "project_id") -> int:
        """Settles pending claims older than the stale age: committed if the lake has the row, else deleted."""
        pg = self._connection()
        stale = pg.execute(f"SELECT table_name, key FROM {self._table} WHERE state = 'pending' "
                           "AND claimed_at < now() - make_interval(secs => %s)", [self._stale_after]).fetchall()
        for table, key in stale:
            if self._lookup(table, column_of(table), key):
                self._mark_committed(pg, [(table, key)])
            else:
                pg.execute(f"DELETE FROM {self._table} WHERE table_name = %s AND key = %s AND state = 'pending'",
                           [table, key])
        return len(stale)

    # -- the PostgreSQL connection (one per thread) --------------------------------------
    def _connection(self) -> psycopg.Connection[Any]:
        pg = getattr(self._connections, "pg", None)
        if pg is None or pg.closed:
            pg = psycopg.connect(self._conninfo, autocommit=True, connect_timeout=5)
            pg.execute(f'CREATE SCHEMA IF NOT EXISTS "{self._schema}"')
            pg.execute(f"CREATE TABLE IF NOT EXISTS {self._table} (table_name text NOT NULL, key text NOT NULL, "
                       "state text NOT NULL, owner text NOT NULL, claimed_at timestamptz NOT NULL DEFAULT now(), "
                       "PRIMARY KEY (table_name, key))")
            pg.execute(f"CREATE TABLE IF NOT EXISTS {self._head_table} (id int PRIMARY KEY, position bigint NOT NULL, "
                       "commit_time timestamp NOT NULL)")
            self._connections.pg = pg
        return pg

    def _drop_connection(self) -> None:
        pg = getattr(self._connections, "pg", None)
        self._connections.pg = None
        if pg is not None:
            try:
                pg.close()
            except psycopg.Error:
                pass

    @contextlib.contextmanager
    def _catalog_errors(self) -> Iterator[None]:
        try:
            yield
        except psycopg.Error:
            self._drop_connection()
            raise Unavailable("the lake's catalog (PostgreSQL) did not answer; retry shortly",
                              retry_after_seconds=1.0, reason="CATALOG_UNAVAILABLE") from None


def advisory_key(schema: str, purpose: str) -> int:
    """One PostgreSQL advisory lock per lake and purpose: the names hashed into PostgreSQL's bigint space."""
    return int.from_bytes(hashlib.sha256(f"duckdb-spawn:{schema}:{purpose}".encode()).digest()[:8], "big",
                          signed=True)


def duplicate(column: str, value: object) -> duckdb.ConstraintException:
    # DuckDB's own words for a primary key violation (storage/project_store.py reads the id from them).
    return duckdb.ConstraintException(f'Duplicate key "{column}: {value}" violates primary key constraint.')
