"""The service's log level, changeable at run time for all of its loggers."""

from __future__ import annotations

import logging

from ..domain.errors import FieldViolation, InvalidArgument

LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
# The loggers the service owns; the root logger's handler prints them all.
SERVICE_LOGGERS = ("duckdb_spawn_server",)


class LogLevelControl:
    def get(self) -> str:
        return logging.getLevelName(logging.getLogger(SERVICE_LOGGERS[0]).getEffectiveLevel())

    def set(self, level: str) -> str:
        normalized = level.strip().upper()
        if normalized == "WARN":
            normalized = "WARNING"
        if normalized not in LEVELS:
            raise InvalidArgument(
                "level must be one of " + ", ".join(LEVELS),
                violations=[FieldViolation("level", "must be one of " + ", ".join(LEVELS), "INVALID_LOG_LEVEL")],
                reason="INVALID_LOG_LEVEL")
        for name in SERVICE_LOGGERS:
            logging.getLogger(name).setLevel(normalized)
        logging.getLogger(__name__).warning("log level set to %s", normalized)
        return normalized
