"""Structured logs: one JSON object per line on stdout.

Every line has `timestamp` (UTC, RFC 3339), `level`, `logger` and `message`;
lines written while an RPC is served also carry its `request_id`
(observability/correlation.py). Python warnings and uncaught exceptions
in any thread go through the same handler, so nothing but JSON reaches
stdout or stderr.
"""

from __future__ import annotations

import json
import logging
import sys
import threading
import traceback
from datetime import UTC, datetime
from types import TracebackType
from typing import Any

from .correlation import CorrelationIdFilter

# Attributes every LogRecord has; anything else came in through `extra=`.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime", "taskName"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "timestamp": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = value if isinstance(value, (str, int, float, bool, type(None))) else str(value)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


class JsonLinesHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """The one stdout handler; `write_line` lets a hot path hand over a line it formatted itself."""

    def write_line(self, line: str) -> None:
        with self.lock:  # type: ignore[union-attr]
            self.stream.write(line)
            self.stream.flush()


_json_lines: JsonLinesHandler | None = None


def json_lines() -> JsonLinesHandler | None:
    """The stdout handler, when it is the only place log records go (else: use logging as usual)."""
    handler = _json_lines
    return handler if handler is not None and logging.getLogger().handlers == [handler] else None


def configure_logging(level: str) -> None:
    global _json_lines
    handler = JsonLinesHandler(sys.stdout)
    handler.setFormatter(JsonFormatter())
    _json_lines = handler
    handler.addFilter(CorrelationIdFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.WARNING)  # third-party libraries: warnings and up
    logging.getLogger("duckdb_spawn_server").setLevel(level)
    logging.captureWarnings(True)
    sys.excepthook = _log_uncaught
    threading.excepthook = _log_thread_exception


_uncaught = logging.getLogger("duckdb_spawn_server.uncaught")


def _log_uncaught(kind: type[BaseException], error: BaseException, traceback: TracebackType | None) -> None:
    _uncaught.critical("uncaught exception", exc_info=(kind, error, traceback))


def _log_thread_exception(args: threading.ExceptHookArgs) -> None:
    if args.exc_type is SystemExit:
        return
    _uncaught.error("uncaught exception in thread %s", args.thread.name if args.thread else "?",
                    exc_info=(args.exc_type, args.exc_value or args.exc_type(), args.exc_traceback))


def stack_without_message(error: BaseException) -> str:
    """Where an exception was raised, without its message: messages can quote request values.

    Loggers at INFO and above use this; the full exception goes to DEBUG only.
    """
    frames = traceback.extract_tb(error.__traceback__)
    lines = [f"{frame.filename}:{frame.lineno} in {frame.name}" for frame in frames]
    return " <- ".join(reversed(lines[-12:])) + f" ({type(error).__name__})"
