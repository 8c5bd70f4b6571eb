"""The audit log: one structured line per AdminService call and per denied call.

Lines go to the `duckdb_spawn_server.audit` logger, pinned at INFO so a
quieter LOG_LEVEL (or SetLogLevel) never silences them, and printed as JSON
like every other log line, with `"audit": true`. They carry who (principal,
role, how authenticated, peer address), what (method, target) and the
outcome (status code name and reason); never a token or any other metadata.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from ..domain.access import Principal

AUDIT_LOGGER = "duckdb_spawn_server.audit"
_TARGET_MAX = 200


@dataclass(frozen=True)
class AuditRecord:
    principal: Principal
    method: str
    target: str
    outcome: str  # a gRPC status code name such as OK or PERMISSION_DENIED
    reason: str = ""
    peer: str = ""


class AuditLog:
    def __init__(self, logger: logging.Logger | None = None) -> None:
        self._log = logger or logging.getLogger(AUDIT_LOGGER)
        self._log.setLevel(logging.INFO)

    def record(self, entry: AuditRecord) -> None:
        target = entry.target if len(entry.target) <= _TARGET_MAX else entry.target[:_TARGET_MAX - 3] + "..."
        self._log.info("audit", extra={
            "audit": True,
            "principal": entry.principal.name,
            "role": entry.principal.role_label,
            "auth": entry.principal.via.value,
            "method": entry.method,
            "target": _printable(target),
            "outcome": entry.outcome,
            "reason": entry.reason,
            "peer": entry.peer,
        })


def _printable(text: str) -> str:
    """Log lines stay one line: control characters are escaped."""
    return text if text.isprintable() else text.encode("unicode_escape").decode("ascii")
