"""Our server with parts of a unary path switched off, to see what each costs (`bench_unary --stages`).

Never part of the product. Each stage patches the application before it
starts (the server package carries no benchmark hooks), chosen with
BENCH_STAGE:

- `full`: the production server, unchanged.
- `no-commit`: everything, but the writer's group commit skips DuckDB (the
  write hand-off, the group, the wake-up of the waiting call all happen).
- `no-write`: everything up to the writer: the call pipeline, validation,
  the record, the response; the write "commits" at once, on the loop.
- `pipeline-only`: the call pipeline; the servicer answers canned bytes of
  a real response (what the ceiling server does, inside our process).
- `bare`: no pipeline at all; the servicer answers the canned bytes.
"""

from __future__ import annotations

import os
import sys
from concurrent.futures import Future
from typing import Any

import grpc

STAGES = ("full", "no-commit", "no-write", "pipeline-only", "bare")
CANNED = os.environ.get("BENCH_CANNED_HEX", "")


def _canned_servicer() -> None:
    from duckdb_spawn_server.api.project_servicer import ProjectServicer

    answer = bytes.fromhex(CANNED)

    async def canned(self: ProjectServicer, request: Any, context: Any) -> bytes:
        return answer

    for method in ("CreateProject", "GetProject", "ListProjects"):
        setattr(ProjectServicer, method, canned)


def _no_pipeline() -> None:
    from duckdb_spawn_server.api import pipeline

    def handler(self: pipeline.CallPipeline, method: Any, behavior: Any, deserializer: Any, serializer: Any,
                **_: Any) -> grpc.RpcMethodHandler:
        if method.client_streaming or method.server_streaming:
            return original(self, method, behavior, deserializer, serializer)
        return grpc.unary_unary_rpc_method_handler(behavior, deserializer, serializer)

    original = pipeline.CallPipeline.handler
    pipeline.CallPipeline.handler = handler  # type: ignore[method-assign]


def _no_commit() -> None:
    from duckdb_spawn_server.storage import writer

    def insert_arrow(con: Any, table_sql: str, rows: Any, key_check: Any = None) -> int:
        return int(rows.num_rows)

    writer.insert_arrow = insert_arrow  # type: ignore[assignment]


def _no_write() -> None:
    from duckdb_spawn_server.storage.project_store import DuckDBProjectStore

    def insert(self: DuckDBProjectStore, schema: Any, records: Any, *, log: Any = None) -> Future[None]:
        done: Future[None] = Future()
        done.set_result(None)
        return done

    DuckDBProjectStore.insert = insert  # type: ignore[method-assign]


def main() -> int:
    stage = os.environ.get("BENCH_STAGE", "full")
    if stage not in STAGES:
        print(f"BENCH_STAGE must be one of {', '.join(STAGES)}", file=sys.stderr)
        return 2
    if stage == "no-commit":
        _no_commit()
    if stage == "no-write":
        _no_write()
    if stage in ("pipeline-only", "bare"):
        _canned_servicer()
    if stage == "bare":
        _no_pipeline()
    from duckdb_spawn_server.main import run

    run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
