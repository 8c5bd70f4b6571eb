"""CreateProject and BatchCreateProjects (AIP-233): rows validated, completed and handed to storage.

A batch is checked whole before anything is written: every problem of
every request is reported at once, against the request's own path
(`requests[3].project.attributes.total_amount`, `requests[4].project_id`),
and either every project is created or none. Writes never wait on the
database here (`start_*` return futures), so an event loop may call them.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .errors import DeadlineExceeded, FieldViolation, InvalidArgument
from .futures import then
from .idempotency import EntryFor, Idempotency
from .limits import Limits
from .ports import ProjectStore, SchemaProvider
from .records import ActiveSchema, ProjectRecord, new_record
from .request_ids import RequestKey

Items = Sequence[tuple[Mapping[str, Any], str]]  # (attributes, requested project id or "")


@dataclass
class ProjectCreation:
    schemas: SchemaProvider
    schema_id: str
    store: ProjectStore
    requests: Idempotency
    limits: Limits
    clock: Callable[[], datetime]

    def create(self, attributes: Mapping[str, Any], project_id: str = "", *, request: RequestKey | None = None,
               timeout: float | None = None) -> ProjectRecord:
        return self.requests.run(request, lambda entry: wait(self._insert_one(attributes, project_id, entry, timeout),
                                                              timeout)[0], _replayed_one)

    def start_create(self, attributes: Mapping[str, Any], project_id: str = "", *, request: RequestKey | None = None,
                     timeout: float | None = None) -> Future[list[ProjectRecord]]:
        """Validates now and hands the row to storage; the future resolves once it committed.

        Unlike `create`, it does not look for an earlier run of a request id
        first (that would wait on the database): the write itself finds it.
        """
        return self.requests.submit(request, lambda entry: self._insert_one(attributes, project_id, entry, timeout),
                                    _replayed_many)

    def batch_create(self, items: Items, *, request: RequestKey | None = None,
                     timeout: float | None = None) -> list[ProjectRecord]:
        """Creates every project or none; violations name `requests[i]`."""
        self.limits.check_batch(len(items))
        return self.requests.run(request, lambda entry: wait(self._insert_batch(items, entry, timeout), timeout),
                                 _replayed_many)

    def start_batch_create(self, items: Items, *, request: RequestKey | None = None,
                           timeout: float | None = None) -> Future[list[ProjectRecord]]:
        self.limits.check_batch(len(items))
        return self.requests.submit(request, lambda entry: self._insert_batch(items, entry, timeout), _replayed_many)

    def _insert_one(self, attributes: Mapping[str, Any], project_id: str, entry: EntryFor,
                    timeout: float | None) -> Future[list[ProjectRecord]]:
        self.limits.check_attribute_values(attributes, "project.attributes")
        active = self.schemas.active(self.schema_id, timeout=timeout)
        return self._insert(active, [new_record(active, attributes, project_id, self.clock())], entry)

    def _insert_batch(self, items: Items, entry: EntryFor, timeout: float | None) -> Future[list[ProjectRecord]]:
        for index, (attributes, _) in enumerate(items):
            self.limits.check_attribute_values(attributes, f"requests[{index}].project.attributes")
        active = self.schemas.active(self.schema_id, timeout=timeout)
        return self._insert(active, self._validate_batch(active, items), entry)

    def _insert(self, active: ActiveSchema, records: list[ProjectRecord],
                entry: EntryFor) -> Future[list[ProjectRecord]]:
        """One atomic insert, its request logged with it when it has an id."""
        log = entry(lambda: [r.to_json() for r in records])
        return then(self.store.insert(active.schema, records, log=log), lambda _: records)

    def _validate_batch(self, active: ActiveSchema, items: Items) -> list[ProjectRecord]:
        """The complete records, or one INVALID_ARGUMENT naming `requests[i]...` for every problem;
        an id given twice in the batch is a violation of the later request."""
        now = self.clock()
        records: list[ProjectRecord] = []
        violations: list[FieldViolation] = []
        first_index: dict[uuid.UUID, int] = {}
        invalid: list[int] = []
        for index, (attributes, project_id) in enumerate(items):
            where = f"requests[{index}]"
            try:
                record = new_record(active, attributes, project_id, now, prefix=f"{where}.project.attributes.",
                                    id_field=f"{where}.project_id")
            except InvalidArgument as error:
                violations += error.violations
                invalid.append(index)
                continue
            if record.project_id in first_index:
                violations.append(FieldViolation(f"{where}.project_id", "repeats the project_id of "
                                                 f"requests[{first_index[record.project_id]}]", "DUPLICATE_ID"))
                invalid.append(index)
            first_index.setdefault(record.project_id, index)
            records.append(record)
        if violations:
            raise InvalidArgument(f"{len(invalid)} of {len(items)} requests are invalid; nothing was created",
                                  violations=violations, reason="INVALID_BATCH",
                                  metadata={"invalid_requests": str(len(invalid)),
                                            "first_invalid_request": str(invalid[0])})
        return records


def _replayed_one(stored: Any) -> ProjectRecord:
    return ProjectRecord.from_json(stored[0])


def _replayed_many(stored: Any) -> list[ProjectRecord]:
    return [ProjectRecord.from_json(item) for item in stored]


def wait(future: Future[Any], timeout: float | None) -> Any:
    """A write's result, waiting past the deadline by a margin: the writer gives up on it at the deadline."""
    try:
        return future.result(timeout=None if timeout is None else max(timeout, 0.0) + 30.0)
    except FutureTimeout:
        raise DeadlineExceeded("the deadline passed before the write committed; it may still commit",
                               reason="WRITE_DEADLINE_EXCEEDED") from None
