"""BatchCreateProjects (AIP-233): every request checked before anything is written."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from .errors import FieldViolation, InvalidArgument

if TYPE_CHECKING:
    from .projects import ActiveSchema, ProjectManager, ProjectRecord


def validate_batch(manager: ProjectManager, active: ActiveSchema,
                   items: Sequence[tuple[Mapping[str, Any], str]]) -> list[ProjectRecord]:
    """The complete records, or one INVALID_ARGUMENT naming `requests[i]...` for every problem.

    Violations are reported against the request's own path
    (`requests[3].project.attributes.total_amount`, `requests[4].project_id`);
    an id given twice in the batch is a violation of the later request.
    """
    records: list[ProjectRecord] = []
    violations: list[FieldViolation] = []
    first_index: dict[uuid.UUID, int] = {}
    invalid: list[int] = []
    for index, (attributes, project_id) in enumerate(items):
        where = f"requests[{index}]"
        try:
            record = manager.build_new_record(active, attributes, project_id, prefix=f"{where}.project.attributes.",
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
