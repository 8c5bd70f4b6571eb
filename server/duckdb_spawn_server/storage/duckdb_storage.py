"""The whole DuckDB-backed storage, assembled in one place for the app and the tests alike.

One writer thread (group commit) for every write, a pool of read
connections, the table layouts every DDL publishes to, and the two stores
the domain's ports ask for. `build` opens nothing: it takes an open
`Database` (the app retries opening it while another process holds the file).
"""

from __future__ import annotations

from dataclasses import dataclass

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
from .writer import GroupCommitWriter


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

    @classmethod
    def build(cls, database: Database, *, pool_size: int = 8, writer: WriterSettings = WriterSettings(),
              guard: DiskSpaceGuard | None = None, cache: RecordCache | None = None) -> DuckDBStorage:
        """Starts the writer, makes sure the catalog and request-log tables exist, clears crash leftovers."""
        pool = ConnectionPool(database, pool_size)
        coordinator = _coordinator(database, pool)
        group_commit = GroupCommitWriter(database, queue_size=writer.queue_size, max_group=writer.max_group,
                                         group_delay=writer.group_delay, guard=guard, listener=coordinator)
        group_commit.start()
        maintenance = _maintenance(database)
        layouts = TableLayouts(pool)  # one instance: every DDL publishes the new layout to it
        tables = DuckDBTableStore(pool, group_commit, layouts, cache=cache, coordinator=coordinator,
                                  leads=None if maintenance is None else lambda: maintenance.leader)
        tables.ensure_catalog()
        spool_dir = None if database.in_memory else str(database.path.parent)  # import spools, export pipes
        projects = DuckDBProjectStore(pool, group_commit, layouts, spool_dir=spool_dir, guard=guard, cache=cache,
                                      coordinator=coordinator)
        projects.prepare()
        if coordinator is not None:
            coordinator.start()
        if maintenance is not None:
            maintenance.start()
        return cls(database, pool, group_commit, layouts, tables, projects, coordinator, maintenance)

    def close(self) -> None:
        """Commits what is queued, then checkpoints and closes the database."""
        if self.maintenance is not None:
            self.maintenance.stop()
        self.writer.stop(timeout=5.0)
        if self.coordinator is not None:
            self.coordinator.stop()
        self.pool.close()
        self.database.checkpoint_and_close()


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
