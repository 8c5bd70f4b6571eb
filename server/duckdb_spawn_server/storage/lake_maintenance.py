"""One replica of a lake, the leader, keeps it compact; the others stand by.

Leadership is a PostgreSQL advisory lock held by a session of its own: the
replica that holds it leads until it dies or loses the catalog (its session,
and so the lock, then ends), and whichever replica asks next takes over. Every
`interval` the leader flushes inlined rows into Parquet, merges small adjacent
files, expires snapshots older than the retention and deletes the files they
alone used once they are an hour older still (long exports on other replicas
may be reading them). It does so under the lake's changes lock
(storage/coordination.py): updates and deletes wait, appends go on. The
leader also applies the automatic (additive) migrations of a new ontology
schema; the other replicas put the schema in force once they find the table
migrated (domain/table_admin.py).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import duckdb
import psycopg

from .coordination import advisory_key
from .lake import LAKE_ALIAS

log = logging.getLogger(__name__)

FILE_GRACE_SECONDS = 3600
LEADER_CHECK_SECONDS = 5.0


class LakeMaintenance:
    def __init__(self, conninfo: str, schema: str, cursor: Callable[[], duckdb.DuckDBPyConnection], *,
                 interval: float, snapshot_retention: float, check_every: float = LEADER_CHECK_SECONDS) -> None:
        self._conninfo = conninfo
        self._leader_key = advisory_key(schema, "leader")
        self._changes_key = advisory_key(schema, "changes")
        self._cursor = cursor
        self._interval = interval
        self._retention = snapshot_retention
        self._check_every = min(check_every, interval)
        self._pg: psycopg.Connection[Any] | None = None
        self.leader = False
        self.runs = 0
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="lake-maintenance", daemon=True)

    def start(self) -> None:
        try:  # at once: a lone replica leads (and migrates) from its first schema on
            self._try_to_lead()
        except psycopg.Error:
            self._disconnect()  # the thread keeps asking
        self._thread.start()

    def stop(self) -> None:
        self._stopped.set()
        self._thread.join(timeout=10)
        self._disconnect()

    def _run(self) -> None:
        due = time.monotonic() + self._interval
        while not self._stopped.wait(self._check_every if not self.leader else max(0.0, due - time.monotonic())):
            try:
                if not self.leader:
                    self._try_to_lead()
                    due = time.monotonic() + self._interval
                elif time.monotonic() >= due:
                    self.maintain()
                    due = time.monotonic() + self._interval
            except (psycopg.Error, duckdb.Error) as error:
                if self.leader:
                    log.warning("lake maintenance lost the catalog; leadership is released",
                                extra={"error": type(error).__name__})
                self._disconnect()

    def _try_to_lead(self) -> None:
        pg = self._connection()
        if pg.execute("SELECT pg_try_advisory_lock(%s)", [self._leader_key]).fetchone()[0]:
            self.leader = True
            log.info("leading the lake's maintenance", extra={"interval_seconds": self._interval})

    def maintain(self) -> dict[str, int]:
        """One round (the leader's): flush, merge, expire, clean up. Returns what each step did."""
        pg = self._connection()
        con = self._cursor()
        done: dict[str, int] = {}
        pg.execute("SELECT pg_advisory_lock(%s)", [self._changes_key])
        try:
            lake = f"'{LAKE_ALIAS}'"
            done["tables_flushed"] = len(con.execute(f"CALL ducklake_flush_inlined_data({lake})").fetchall())
            done["files_merged"] = len(con.execute(f"CALL ducklake_merge_adjacent_files({lake})").fetchall())
            done["snapshots_expired"] = len(con.execute(
                f"CALL ducklake_expire_snapshots({lake}, older_than => now() - to_seconds(?))",
                [float(self._retention)]).fetchall())
            done["files_deleted"] = len(con.execute(
                f"CALL ducklake_cleanup_old_files({lake}, older_than => now() - to_seconds(?))",
                [float(FILE_GRACE_SECONDS)]).fetchall())
        finally:
            pg.execute("SELECT pg_advisory_unlock(%s)", [self._changes_key])
            con.close()
        self.runs += 1
        log.info("lake maintenance done", extra=done)
        return done

    def _connection(self) -> psycopg.Connection[Any]:
        if self._pg is None or self._pg.closed:
            self.leader = False  # a new session holds no lock
            self._pg = psycopg.connect(self._conninfo, autocommit=True, connect_timeout=5)
        return self._pg

    def _disconnect(self) -> None:
        self.leader = False
        if self._pg is not None:
            try:
                self._pg.close()
            except psycopg.Error:
                pass
            self._pg = None
