"""Recently written and read projects, kept coherent with every commit of this process.

This process is the only writer of its database file, and every write goes
through the single writer thread, which updates the cache right after each
commit and before the caller is told (write-through): a client that got
its acknowledgement and then reads sees its write. DDL (migrations,
dropped or recreated tables) empties a table's entries.

A read that missed fills the cache only if no write to the table committed
since the read began (`sequence` taken before, checked under the lock at
fill time), so a slow read can never put back a value a write replaced.
Entries remember the schema they were read or written for; another schema
(a migration in between) misses. The size is bounded; the oldest entries go
first.

Query results (a page of ListProjects, the number of matches of a filter)
are kept the same way, tagged with the table's write sequence when their
query began: any later commit to the table makes them useless, so paging
through an unchanged table reads the database once per page and counts
the matches once per query.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Hashable, Iterable
from dataclasses import dataclass
from typing import Any

from ..domain.records import ProjectRecord


@dataclass(frozen=True)
class _Entry:
    shape: str  # the schema's content hash: which attributes the record carries
    record: ProjectRecord


class RecordCache:
    def __init__(self, max_entries: int) -> None:
        self.max_entries = max_entries
        self._lock = threading.Lock()
        self._entries: dict[tuple[str, uuid.UUID], _Entry] = {}
        self._sequence: dict[str, int] = {}  # table -> writes committed (for fills)
        self._results: dict[tuple[str, Hashable], tuple[int, Any]] = {}
        self.hits = 0
        self.misses = 0

    @property
    def enabled(self) -> bool:
        return self.max_entries > 0

    def get(self, table: str, shape: str, project_id: uuid.UUID) -> ProjectRecord | None:
        entry = self._entries.get((table, project_id))
        if entry is None or entry.shape != shape:
            self.misses += 1
            return None
        self.hits += 1
        return entry.record

    def sequence(self, table: str) -> int:
        return self._sequence.get(table, 0)

    def fill(self, table: str, shape: str, record: ProjectRecord, read_began: int) -> None:
        """A record read from the database, kept unless a write committed since the read began."""
        if not self.max_entries:
            return
        with self._lock:
            if self._sequence.get(table, 0) == read_began:
                self._put(table, shape, record)

    def result(self, table: str, key: Hashable) -> Any | None:
        """A query result kept for `key`, if no write to `table` committed since its query began."""
        found = self._results.get((table, key))
        if found is None or found[0] != self._sequence.get(table, 0):
            return None
        return found[1]

    def keep_result(self, table: str, key: Hashable, value: Any, read_began: int) -> None:
        if not self.max_entries:
            return
        with self._lock:
            if self._sequence.get(table, 0) != read_began:
                return
            entry = (table, key)
            self._results.pop(entry, None)
            self._results[entry] = (read_began, value)
            while len(self._results) > max(1, self.max_entries // 100):  # pages are large: fewer of them
                del self._results[next(iter(self._results))]

    # -- called by the writer thread, right after a commit ----------------------------------
    def written(self, table: str, shape: str, records: Iterable[ProjectRecord]) -> None:
        with self._lock:
            self._sequence[table] = self._sequence.get(table, 0) + 1
            if self.max_entries:
                for record in records:
                    self._put(table, shape, record)

    def removed(self, table: str, project_id: uuid.UUID) -> None:
        with self._lock:
            self._sequence[table] = self._sequence.get(table, 0) + 1
            self._entries.pop((table, project_id), None)

    def changed(self, table: str) -> None:
        """Rows changed in ways not listed one by one (bulk loads): fills in flight are refused."""
        with self._lock:
            self._sequence[table] = self._sequence.get(table, 0) + 1

    def clear(self, table: str) -> None:
        """The table's layout changed (or it is gone): forget every entry of it."""
        with self._lock:
            self._sequence[table] = self._sequence.get(table, 0) + 1
            for key in [key for key in self._entries if key[0] == table]:
                del self._entries[key]

    def _put(self, table: str, shape: str, record: ProjectRecord) -> None:
        key = (table, record.project_id)
        self._entries.pop(key, None)
        self._entries[key] = _Entry(shape, record)
        while len(self._entries) > self.max_entries:
            del self._entries[next(iter(self._entries))]
