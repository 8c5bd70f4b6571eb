"""The last-known-good schemas, persisted beside the database.

Each schema that validated and came into force is written to
`{DUCKDB_PATH}.schemas/{schema_id}.json` as the exact document the ontology
server sent, with its ETag and fetch time. A cold start during an outage
loads it (and re-validates it: the file is input like any other), and sends
its ETag with the first request so an unchanged schema costs a 304. Writes
are atomic (temporary file, fsync, rename), so a crash leaves the old copy
or the new one, never half of one.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DiskCopy:
    schema_id: str
    body: str  # the document as the server sent it
    etag: str
    fetched_at: datetime


class DiskCopies:
    def __init__(self, directory: Path | None) -> None:
        self.directory = directory  # None: nothing is persisted (in-memory database)

    @classmethod
    def beside(cls, database_path: str) -> DiskCopies:
        if database_path == ":memory:":
            return cls(None)
        return cls(Path(database_path + ".schemas"))

    def _path(self, schema_id: str) -> Path:
        assert self.directory is not None
        return self.directory / f"{schema_id}.json"  # ids are [A-Za-z0-9][A-Za-z0-9_.-]*: no separators

    def load(self, schema_id: str) -> DiskCopy | None:
        if self.directory is None:
            return None
        path = self._path(schema_id)
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
            return DiskCopy(schema_id, str(record["body"]), str(record.get("etag", "")),
                            datetime.fromisoformat(record["fetched_at"]))
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError) as error:
            log.warning("ignoring an unreadable last-known-good schema file",
                        extra={"path": str(path), "error": str(error)[:200]})
            return None

    def save(self, copy: DiskCopy) -> None:
        if self.directory is None:
            return
        record = {"schema_id": copy.schema_id, "etag": copy.etag, "fetched_at": copy.fetched_at.isoformat(),
                  "body": copy.body}
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            fd, temporary = tempfile.mkstemp(dir=self.directory, prefix=f".{copy.schema_id}.", suffix=".tmp")
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as handle:
                    json.dump(record, handle)
                    handle.flush()
                    os.fsync(handle.fileno())
                os.replace(temporary, self._path(copy.schema_id))
            except BaseException:
                Path(temporary).unlink(missing_ok=True)
                raise
        except OSError as error:  # the in-memory schema still serves; only a cold start loses it
            log.error("cannot persist the last-known-good schema",
                      extra={"schema_id": copy.schema_id, "error": str(error)[:200]})
