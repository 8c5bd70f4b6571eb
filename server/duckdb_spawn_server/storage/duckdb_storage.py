"""The whole DuckDB-backed storage, assembled in one place for the app and the tests alike.

One writer thread (group commit) for every write, a pool of read
connections, the table layouts every DDL publishes to, and the two stores
the domain's ports ask for. `build` opens nothing: it takes an open
`Database` (the app retries opening it while another process holds the file).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .change_log import (
    ChangeLog,
    DuckDBChangeStore,
    LakePositions,
    LocalPositions,
    PositionSource,
    Retention,
    committed_head,
    ensure_log,
    last_by_table,
    log_exists,
)
from .change_retention import ChangeRetention
from .coordination import LakeCoordinator
from .database import Database
from .disk_guard import DiskSpaceGuard
from .lake_maintenance import LakeMaintenance
from .layouts import TableLayouts
from .pool import ConnectionPool
from .project_store import DuckDBProjectStore
from .record_cache import RecordCache
from .sql import first_row, quote_identifier
from .tables import DuckDBTableStore
from .writer import Execute, GroupCommitWriter


@dataclass(frozen=True)
class ChangeLogSettings:
    retention: Retention = field(default_factory=lambda: Retention(seconds=604_800, count=0))
    compaction_interval: float = 60.0


@dataclass(frozen=True)
class WriterSettings:
    queue_size: int = 10_000
    max_group: int = 1024
    group_delay: float = 0.0  # seconds a group waits for more writes


@dataclass
class DuckDBStorage:
    database: Database
    pool: ConnectionPool
    writer: GroupCommitWriter
    layouts: TableLayouts
    tables: DuckDBTableStore
    projects: DuckDBProjectStore
    coordinator: LakeCoordinator | None = None  # a lake's (storage/coordination.py)
    maintenance: LakeMaintenance | None = None  # a lake's (storage/lake_maintenance.py)
    changes: DuckDBChangeStore | None = None  # None: the change log is off
    retention: ChangeRetention | None = None

    @classmethod
    def build(cls, database: Database, *, pool_size: int = 8, writer: WriterSettings = WriterSettings(),
              guard: DiskSpaceGuard | None = None, cache: RecordCache | None = None,
              change_log: ChangeLogSettings | None = ChangeLogSettings()) -> DuckDBStorage:
        """Starts the writer, makes sure the catalog, request-log and change-log tables exist, clears crash
        leftovers. `change_log` None: no change log (no feed, no read_time)."""
        pool = ConnectionPool(database, pool_size)
        coordinator = _coordinator(database, pool)
        group_commit = GroupCommitWriter(database, queue_size=writer.queue_size, max_group=writer.max_group,
                                         group_delay=writer.group_delay, guard=guard, listener=coordinator)
        group_commit.start()
        maintenance = _maintenance(database)
        layouts = TableLayouts(pool)  # one instance: every DDL publishes the new layout to it
        leads = None if maintenance is None else lambda: maintenance.leader
        changes = None if change_log is None else _change_store(pool, group_commit, coordinator, layouts)
        tables = DuckDBTableStore(pool, group_commit, layouts, cache=cache, coordinator=coordinator, leads=leads,
                                  changes=changes.change_log if changes is not None else None)
        tables.ensure_catalog()
        spool_dir = None if database.in_memory else str(database.path.parent)  # import spools, export pipes
        projects = DuckDBProjectStore(pool, group_commit, layouts, spool_dir=spool_dir, guard=guard, cache=cache,
                                      coordinator=coordinator, changes=changes)
        projects.prepare()
        retention = None
        if changes is not None and change_log is not None:
            retention = ChangeRetention(group_commit, changes, change_log.retention, change_log.compaction_interval,
                                        leads)
            retention.start()
        if coordinator is not None:
            coordinator.start()
        if maintenance is not None:
            maintenance.start()
        return cls(database, pool, group_commit, layouts, tables, projects, coordinator, maintenance, changes,
                   retention)

    def close(self) -> None:
        """Commits what is queued, then checkpoints and closes the database."""
        if self.retention is not None:
            self.retention.stop()
        if self.maintenance is not None:
            self.maintenance.stop()
        self.writer.stop(timeout=5.0)
        if self.coordinator is not None:
            self.coordinator.stop()
        self.pool.close()
        self.database.checkpoint_and_close()


def _change_store(pool: ConnectionPool, writer: GroupCommitWriter, coordinator: LakeCoordinator | None,
                  layouts: TableLayouts) -> DuckDBChangeStore:
    """Creates the log if missing, then hands the writer a change log that continues it."""
    # Read first: a start-up that finds the log in place writes nothing, so it also succeeds while writes
    # are refused (a nearly full volume) and reads can be served.
    with pool.connection() as con:
        in_place = log_exists(con)
    if not in_place:
        writer.run(Execute(ensure_log, exclusive=True), timeout=60)  # on a lake, under the changes lock
    with pool.connection() as con:
        head, last_time = committed_head(con)
        last = last_by_table(con)
    positions: PositionSource = (LocalPositions(head, last_time) if coordinator is None
                                 else LakePositions(coordinator, head))
    change_log = ChangeLog(positions, head)
    change_log.restore(last)
    writer.log_changes(change_log)
    return DuckDBChangeStore(pool, change_log, layouts)


def _coordinator(database: Database, pool: ConnectionPool) -> LakeCoordinator | None:
    """On a lake, ids are claimed in its PostgreSQL before each insert (a lake table has no key)."""
    lake = database.settings.lake
    if lake is None:
        return None

    def in_lake(table: str, column: str, key: str) -> bool:
        with pool.connection() as con:
            return first_row(con.execute(f"SELECT 1 FROM {quote_identifier(table)} WHERE {quote_identifier(column)} "
                                         "= CAST(? AS UUID) LIMIT 1", [key])) is not None

    return LakeCoordinator(lake.catalog, lake.metadata_schema, in_lake)


def _maintenance(database: Database) -> LakeMaintenance | None:
    """On a lake, the leader's maintenance (and automatic migrations); None for a file."""
    lake = database.settings.lake
    if lake is None:
        return None
    return LakeMaintenance(lake.catalog, lake.metadata_schema, database.cursor,
                           interval=lake.maintenance_interval, snapshot_retention=lake.snapshot_retention)
