"""The change log: one row per committed change to a project, in the same transaction as the change.

Writer side (`ChangeLog`): the group-commit writer tells it when each group
begins and ends; write ops call it, inside the group's transaction, right
where they change rows. Positions are consecutive within a group and above
every committed one, so log order is commit order:

- a file has one writer thread, which keeps the head in memory (`LocalPositions`);
- on a lake, every group that logs holds the lake's changes lock in PostgreSQL
  from before it begins until it ends (storage/coordination.py), and the head
  lives there, advanced before the lake commit: a crash leaves a gap, never a
  position used twice.

A row keeps the project's image as JSON of strings (exact for every allowed
type, whatever the table's layout was): `before` for updates and deletes,
`after` for updates. A create keeps no image: the project right after it is
the `before` of its next change, or (none yet) the row as it is, so creating
and importing write a few small columns per row, not a copy. The images make
both reads possible: the feed shows the state after each change; a read at
position P takes the table as it is, and for each project changed after P,
the `before` of its first change after P (absent if that change created it).

Reader side (`DuckDBChangeStore`, the domain's ChangeStore port): the feed,
`read_time` positions, and the point-in-time source of a table. Retention
(`compact`) deletes old rows and moves the window's start, recorded in a
one-row table; a position older than that start is refused.
"""

from __future__ import annotations

import json
import logging
import secrets
import threading
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

import duckdb
import pyarrow as pa

from ..domain.changes import Change, ChangeBatch, ChangePositionExpired, ChangeType, LogWindow, ReadTimeExpired
from ..domain.records import ProjectRecord, utc_now
from ..domain.schema import TableSchema
from .coordination import LakeCoordinator
from .ddl import CREATE_TIME, ETAG, SCHEMA_VERSION, SYSTEM_COLUMNS, UPDATE_TIME, physical_type
from .layouts import TableLayouts
from .pool import ConnectionPool
from .sql import first_row, quote_identifier, string_literal, table_exists

log = logging.getLogger(__name__)

CHANGES_TABLE = "_duckdb_spawn_changes"
WINDOW_TABLE = "_duckdb_spawn_change_window"
_CHANGES = quote_identifier(CHANGES_TABLE)
_WINDOW = quote_identifier(WINDOW_TABLE)
CREATE_CHANGES_SQL = (
    f"CREATE TABLE IF NOT EXISTS {_CHANGES} (position BIGINT NOT NULL, table_name VARCHAR NOT NULL, "
    "change_type VARCHAR NOT NULL, project_id VARCHAR NOT NULL, commit_time TIMESTAMP NOT NULL, "
    "after VARCHAR, before VARCHAR)")
CREATE_WINDOW_SQL = (f"CREATE TABLE IF NOT EXISTS {_WINDOW} (log_id VARCHAR NOT NULL, "
                     "oldest_position BIGINT NOT NULL, oldest_time TIMESTAMP NOT NULL)")
_SYSTEM_TYPES = {CREATE_TIME: "TIMESTAMP", UPDATE_TIME: "TIMESTAMP", SCHEMA_VERSION: "VARCHAR", ETAG: "VARCHAR"}


def image_sql(columns: Sequence[str]) -> str:
    """A row as JSON of strings: every allowed type casts to text and back exactly."""
    fields = ", ".join(f"{quote_identifier(c)} := CAST({quote_identifier(c)} AS VARCHAR)" for c in columns)
    return f"to_json(struct_pack({fields}))"


def image_structure(schema: TableSchema) -> str:
    """from_json's structure for `schema`'s images, as a SQL literal (types from the allow-list only)."""
    structure = {c.name: physical_type(c.type) for c in schema.columns} | _SYSTEM_TYPES
    return string_literal(json.dumps(structure))


# -- positions ------------------------------------------------------------------------------------
class PositionSource(Protocol):
    def reserve(self) -> tuple[int, datetime]:
        """The last position handed out and a commit time for the group about to begin (not before any
        earlier one's)."""
        ...

    def advance(self, position: int, commit_time: datetime) -> None:
        """The group logged up to `position`: recorded before its commit."""
        ...


class LocalPositions:
    """A file: the one writer thread is the only source, so the head lives in memory."""

    def __init__(self, head: int, last_time: datetime) -> None:
        self._head = head
        self._time = last_time

    def reserve(self) -> tuple[int, datetime]:
        self._time = max(self._time, utc_now())
        return self._head, self._time

    def advance(self, position: int, commit_time: datetime) -> None:
        self._head = position  # a group that then rolls back leaves a gap, which readers never notice


class LakePositions:
    """A lake: the head lives in its PostgreSQL, read and advanced under the changes lock."""

    def __init__(self, coordinator: LakeCoordinator, head: int) -> None:
        self._coordinator = coordinator
        self._head = head

    def reserve(self) -> tuple[int, datetime]:
        head, when = self._coordinator.reserve_positions(self._head, utc_now())
        self._head = head
        return head, when

    def advance(self, position: int, commit_time: datetime) -> None:
        self._coordinator.advance_positions(position, commit_time)
        self._head = position


# -- the writer's side ----------------------------------------------------------------------------
ChangeListener = Callable[[frozenset[str]], None]


class ChangeLog:
    """Assigns positions and writes change rows; every method but `head`/`add_listener` runs in the writer thread."""

    def __init__(self, positions: PositionSource, head: int) -> None:
        self._positions = positions
        self._head = head  # the latest committed position this process knows of
        self._last: dict[str, int] = {}  # table -> position of its latest change committed here
        self._listeners: list[ChangeListener] = []
        self._base = 0
        self._next = 0
        self._time = utc_now()
        self._tables: dict[str, int] = {}
        self._lock = threading.Lock()
        self.logged = 0  # changes this process committed (the metrics' running count)

    @property
    def head(self) -> int:
        return self._head

    def observed(self, position: int) -> None:
        """A read saw `position` committed (another replica's, on a lake)."""
        with self._lock:
            self._head = max(self._head, position)

    def unchanged_since(self, table: str, position: int) -> bool:
        """True when no change to `table` committed after `position` (as far as this process knows: a file's
        writer sees every change; on a lake this is never asserted)."""
        return self._last.get(table, 0) <= position

    def add_listener(self, listener: ChangeListener) -> None:
        """Called (in the writer thread) with the tables a group changed, once it committed."""
        self._listeners.append(listener)

    # -- the writer's hooks
    def begin(self) -> None:
        self._base, self._time = self._positions.reserve()
        self._next = self._base
        self._tables = {}

    def before_commit(self) -> None:
        if self._next > self._base:
            self._positions.advance(self._next, self._time)

    def committed(self) -> None:
        if self._next == self._base:
            return
        with self._lock:
            self._head = max(self._head, self._next)
        self._last.update(self._tables)
        tables = frozenset(self._tables)
        self.logged += self._next - self._base
        self._base = self._next
        for listener in self._listeners:
            try:
                listener(tables)
            except Exception:  # a watcher's wake-up must never fail a commit
                log.exception("change listener failed")

    def rolled_back(self) -> None:
        self._next = self._base
        self._tables = {}

    # -- the ops' side (inside the group's transaction)
    def created_rows(self, table: str, id_column: str) -> Callable[[duckdb.DuckDBPyConnection, pa.Table], None]:
        """Logs Arrow rows just inserted into `table` as creates (the writer's RowsLogger).

        One INSERT of literal rows: DuckDB re-prepares a statement with parameters on every call, which
        cost a create on its own (one in flight) ~0.6 ms, the literal one ~0.25 ms. Every literal is the
        server's own value: a position, a validated table name, an id parsed as a UUID, a time. (Not a
        view over the Arrow rows: a view made and dropped in every group deadlocked DuckDB's catalog
        against readers ending their transactions.)
        """
        table_sql, created = string_literal(table), string_literal(ChangeType.CREATED.value)

        def logged(con: duckdb.DuckDBPyConnection, rows: pa.Table) -> None:
            if not rows.num_rows:
                return
            when = string_literal(self._time.isoformat(sep=" "))
            values = ", ".join(
                f"({self._next + n}, {table_sql}, {created}, '{uuid.UUID(str(value))}', CAST({when} AS TIMESTAMP), "
                "NULL, NULL)" for n, value in enumerate(rows.column(id_column).to_pylist(), start=1))
            con.execute(f"INSERT INTO {_CHANGES} VALUES {values}")
            self._next += rows.num_rows
            self._tables[table] = self._next

        return logged

    def restore(self, last_by_table: dict[str, int]) -> None:
        """At start: the latest position of each table's changes (so `unchanged_since` knows the past too)."""
        self._last.update(last_by_table)

    def log(self, con: duckdb.DuckDBPyConnection, table: str, change: ChangeType, id_column: str, source: str,
            params: Sequence[Any] = (), *, after: Sequence[str] | None = None, before: Sequence[str] | None = None,
            before_json: str | None = None) -> int:
        """Logs one change of `change` per row of `source` (SQL: a table, view or subquery with `params`).

        `after`/`before`: the columns whose values make the image (the source's, as they are);
        `before_json`: a before image read earlier (an update's).
        """
        after_sql = image_sql(after) if after is not None else "NULL"
        if before is not None:
            before_sql = image_sql(before)
        elif before_json is not None:
            before_sql, params = "?", [before_json, *params]
        else:
            before_sql = "NULL"
        result = con.execute(
            f"INSERT INTO {_CHANGES} SELECT ? + row_number() OVER (), ?, ?, CAST({quote_identifier(id_column)} "
            f"AS VARCHAR), ?, {after_sql}, {before_sql} FROM {source}",
            [self._next, table, change.value, self._time, *params])
        count = int(first_row(result)[0])  # type: ignore[index]
        if count:
            self._next += count
            self._tables[table] = self._next
        return count


# -- the reader's side ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Retention:
    seconds: float  # 0: no limit by age
    count: int  # 0: no limit by count


class DuckDBChangeStore:
    """The domain's ChangeStore over the log table, and the point-in-time sources of tables."""

    def __init__(self, pool: ConnectionPool, log: ChangeLog, layouts: TableLayouts) -> None:
        self._pool = pool
        self._log = log
        self._layouts = layouts

    @property
    def change_log(self) -> ChangeLog:
        return self._log

    def window(self) -> LogWindow:
        with self._pool.connection() as con:
            return read_window(con)

    def latest_position(self) -> int:
        known = self.known()
        with self._pool.connection() as con:
            return self.snapshot_position(con, known)

    def known(self) -> int:
        """A position known committed: take it before the read's transaction begins, so its snapshot has it."""
        return self._log.head

    def snapshot_position(self, con: duckdb.DuckDBPyConnection, known: int) -> int:
        """The position of the snapshot `con`'s transaction reads; `known`: from `known()`, taken before it began
        (the scan starts there, so it reads only the log's tail)."""
        row = first_row(con.execute(f"SELECT max(position) FROM {_CHANGES} WHERE position >= ?", [known]))
        latest = max(known, int(row[0])) if row and row[0] is not None else known
        self._log.observed(latest)
        return latest

    def changes_after(self, schema: TableSchema, position: int, limit: int) -> ChangeBatch:
        known = self.known()
        table = schema.table_name
        with self._pool.connection() as con:
            con.begin()  # the window, the changes, the rows they show and the latest position from one snapshot
            try:
                window = read_window(con)
                if position < window.oldest_position:
                    raise ChangePositionExpired(window)
                # A change without an `after` image (a create) shows its project's next `before`, if any.
                rows = con.execute(
                    f"WITH page AS (SELECT position, change_type, project_id, commit_time, after, before "
                    f"FROM {_CHANGES} WHERE table_name = ? AND position > ? ORDER BY position LIMIT ?), "
                    f"chain AS (SELECT position, lead(before) OVER (PARTITION BY project_id ORDER BY position) "
                    f"AS next_before FROM {_CHANGES} WHERE table_name = ? AND position > ? "
                    f"AND project_id IN (SELECT project_id FROM page WHERE after IS NULL)) "
                    f"SELECT p.position, p.change_type, p.project_id, p.commit_time, "
                    f"from_json(coalesce(p.after, c.next_before), {image_structure(schema)}), "
                    f"json_extract_string(p.before, '$.{ETAG}') "
                    f"FROM page p LEFT JOIN chain c ON c.position = p.position ORDER BY p.position",
                    [table, position, limit, table, position]).fetchall()
                # Still without an image: created and not changed since, so the row as it is now.
                unchanged = [row[2] for row in rows if row[4] is None and row[1] != ChangeType.DELETED.value]
                current = self._current_rows(con, schema, unchanged) if unchanged else {}
                latest = self.snapshot_position(con, known) if len(rows) < limit else 0
            finally:
                con.rollback()
        changes = [_change(schema, row, current) for row in rows]
        reached = changes[-1].position if len(rows) == limit else max(latest, position)
        return ChangeBatch(changes, reached)

    def _current_rows(self, con: duckdb.DuckDBPyConnection, schema: TableSchema,
                      ids: list[str]) -> dict[str, ProjectRecord]:
        select = self._layouts.select_list(schema)
        key = quote_identifier(schema.id_column.name)
        found: dict[str, ProjectRecord] = {}
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            for row in con.execute(f"SELECT {select} FROM {quote_identifier(schema.table_name)} WHERE {key} IN "
                                   f"({', '.join('?' * len(chunk))})", chunk).fetchall():
                record = record_from_row(schema, row)
                found[str(record.project_id)] = record
        return found

    def position_at(self, when: datetime) -> int:
        with self._pool.connection() as con:
            con.begin()
            try:
                window = read_window(con)
                if when < window.oldest_time:
                    raise ReadTimeExpired(window)
                row = first_row(con.execute(f"SELECT max(position) FROM {_CHANGES} WHERE commit_time <= ?",
                                            [when]))
            finally:
                con.rollback()
        found = row[0] if row else None
        return max(window.oldest_position, int(found)) if found is not None else window.oldest_position

    def source_at(self, schema: TableSchema, current: str, position: int) -> str:
        """`schema`'s table as it was at `position`, to select FROM (`current`: its source as it is now)."""
        table = schema.table_name
        after = f"table_name = {string_literal(table)} AND position > {int(position)}"
        first_changes = (f"SELECT before, change_type, row_number() OVER (PARTITION BY project_id ORDER BY position)"
                         f" AS nth FROM {_CHANGES} WHERE {after}")
        earlier = (f"SELECT from_json(before, {image_structure(schema)}) AS image FROM ({first_changes}) "
                   f"WHERE nth = 1 AND change_type <> '{ChangeType.CREATED.value}'")
        key = quote_identifier(schema.id_column.name)
        return (f"(SELECT * FROM {current} WHERE CAST({key} AS VARCHAR) NOT IN "
                f"(SELECT project_id FROM {_CHANGES} WHERE {after}) "
                f"UNION ALL BY NAME SELECT image.* FROM ({earlier})) AS {quote_identifier(table)}")

    def stats(self) -> tuple[int, datetime | None]:
        """(changes retained, commit time of the oldest)."""
        with self._pool.connection() as con:
            row = first_row(con.execute(f"SELECT count(*), min(commit_time) FROM {_CHANGES}"))
        return (int(row[0]), row[1]) if row else (0, None)


def read_window(con: duckdb.DuckDBPyConnection) -> LogWindow:
    row = first_row(con.execute(f"SELECT log_id, oldest_position, oldest_time FROM {_WINDOW} "
                                "ORDER BY log_id LIMIT 1"))
    if row is None:  # created with the log; only a damaged database lacks it
        raise RuntimeError("the change log's window row is missing")
    return LogWindow(row[0], int(row[1]), row[2])


def _change(schema: TableSchema, row: tuple[Any, ...], current: dict[str, ProjectRecord]) -> Change:
    position, change_type, project_id, commit_time, image, deleted_etag = row
    kind = ChangeType(change_type)
    pid = uuid.UUID(project_id)
    if kind is ChangeType.DELETED:
        return Change(int(position), kind, pid, deleted_etag or "", commit_time, None)
    record = record_from_image(schema, image) if image is not None else current.get(project_id)
    if record is None:  # no image and no row: the log and the table disagree, which one transaction rules out
        log.error("a change's project is missing", extra={"position": int(position)})
        return Change(int(position), kind, pid, "", commit_time, None)
    return Change(int(position), kind, pid, record.etag, commit_time, record)


def record_from_image(schema: TableSchema, image: dict[str, Any]) -> ProjectRecord:
    attributes = {c.name: image.get(c.name) for c in schema.columns}
    project_id = attributes[schema.id_column.name]
    return ProjectRecord(project_id if isinstance(project_id, uuid.UUID) else uuid.UUID(str(project_id)),
                         attributes, image[CREATE_TIME], image[UPDATE_TIME], image[ETAG], image[SCHEMA_VERSION],
                         schema.content_hash())


def record_from_row(schema: TableSchema, row: tuple[Any, ...]) -> ProjectRecord:
    """A record from `TableLayouts.select_list`'s columns: the schema's, then the bookkeeping ones."""
    count = len(schema.columns)
    attributes = {c.name: row[i] for i, c in enumerate(schema.columns)}
    create_time, update_time, version, etag = row[count:count + 4]
    project_id = attributes[schema.id_column.name]
    return ProjectRecord(project_id if isinstance(project_id, uuid.UUID) else uuid.UUID(str(project_id)),
                         attributes, create_time, update_time, etag, version, schema.content_hash())


# -- setting up and compacting (run as writer ops) ------------------------------------------------
def log_exists(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether the log and its window row are in place (nothing for `ensure_log` to do)."""
    if not (table_exists(con, CHANGES_TABLE) and table_exists(con, WINDOW_TABLE)):
        return False
    return bool(first_row(con.execute(f"SELECT count(*) FROM {_WINDOW}"))[0])  # type: ignore[index]


def ensure_log(con: duckdb.DuckDBPyConnection) -> None:
    """Creates the log and its window row (the window starts now, at position 0) if missing."""
    con.execute(CREATE_CHANGES_SQL)
    con.execute(CREATE_WINDOW_SQL)
    if first_row(con.execute(f"SELECT count(*) FROM {_WINDOW}"))[0] == 0:  # type: ignore[index]
        con.execute(f"INSERT INTO {_WINDOW} VALUES (?, 0, ?)", [secrets.token_hex(8), utc_now()])


def last_by_table(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    return {table: int(position) for table, position in
            con.execute(f"SELECT table_name, max(position) FROM {_CHANGES} GROUP BY table_name").fetchall()}


def committed_head(con: duckdb.DuckDBPyConnection) -> tuple[int, datetime]:
    """The latest position and commit time in the log (or the window's start when it is empty)."""
    window = read_window(con)
    row = first_row(con.execute(f"SELECT position, commit_time FROM {_CHANGES} ORDER BY position DESC LIMIT 1"))
    if row is None or int(row[0]) < window.oldest_position:
        return window.oldest_position, window.oldest_time
    return int(row[0]), row[1]


def compact(con: duckdb.DuckDBPyConnection, retention: Retention, now: datetime | None = None) -> int:
    """Deletes the changes outside the retention window and moves its start; returns how many went."""
    now = now or utc_now()
    cut: int | None = None
    if retention.seconds > 0:
        row = first_row(con.execute(f"SELECT max(position) FROM {_CHANGES} WHERE commit_time < ?",
                                    [now - timedelta(seconds=retention.seconds)]))
        cut = int(row[0]) if row and row[0] is not None else None
    if retention.count > 0:
        row = first_row(con.execute(f"SELECT position FROM {_CHANGES} ORDER BY position DESC LIMIT 1 OFFSET ?",
                                    [retention.count]))
        if row is not None:
            cut = max(cut or 0, int(row[0]))
    if cut is None:
        return 0
    oldest = first_row(con.execute(f"SELECT commit_time FROM {_CHANGES} WHERE position = ?", [cut]))
    deleted = first_row(con.execute(f"DELETE FROM {_CHANGES} WHERE position <= ?", [cut]))
    con.execute(f"UPDATE {_WINDOW} SET oldest_position = ?, oldest_time = ?",
                [cut, oldest[0] if oldest else now])  # type: ignore[index]
    return int(deleted[0]) if deleted else 0  # type: ignore[index]


__all__ = [
    "SYSTEM_COLUMNS",
    "ChangeLog",
    "DuckDBChangeStore",
    "LocalPositions",
    "PositionSource",
    "Retention",
    "committed_head",
    "compact",
    "ensure_log",
    "image_sql",
    "read_window",
]
