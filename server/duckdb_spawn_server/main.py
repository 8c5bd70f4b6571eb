"""Start-up: configuration -> application -> serve -> drain on SIGTERM/SIGINT."""

from __future__ import annotations

import gc
import logging
import os
import signal
import sys
import threading

from .app import Application
from .config import ConfigError, load_settings
from .observability.logging_setup import configure_logging

log = logging.getLogger("duckdb_spawn_server.main")


def main() -> int:
    try:
        settings = load_settings()
    except ConfigError as error:
        print(f"duckdb-spawn-server: configuration error: {error}", file=sys.stderr)
        return 2
    configure_logging(settings.log_level)
    # Requests allocate many short-lived objects; collect the young generation less often.
    gc.set_threshold(10_000, 20, 20)
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda number, frame: stop.set())
    try:
        app = Application(settings)
        app.start()
    except ConfigError as error:  # e.g. an unreadable tokens file or certificate
        print(f"duckdb-spawn-server: configuration error: {error}", file=sys.stderr)
        return 2
    except OSError as error:
        log.error("cannot start: %s", error)
        return 1
    frozen = False
    while not stop.wait(0.2):
        if app.failed.is_set():
            app.stop(drain_seconds=0)
            return 1
        if not frozen and app.health.ready:
            # Everything start-up allocated lives for the whole run: keep it out of the
            # collector's full passes, which otherwise stall every thread (GIL) for tens
            # of milliseconds under load.
            gc.freeze()
            frozen = True
    app.stop()
    return 0


def run() -> None:
    """The console script: exit at once when stopped, whatever threads a library left behind."""
    code = main()
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    run()
