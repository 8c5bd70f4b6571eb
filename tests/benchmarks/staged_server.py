"""Our server with parts of the CreateProject path switched off, to see what each costs.

Run by `bench_projects --stages`; never part of the product. Each stage
patches the application before it starts (the server package carries no
benchmark hooks) and is chosen with BENCH_STAGE:

- `full`: the production server, unchanged.
- `no-interceptors`: every servicer as in production, no interceptor chain.
- `no-insert`: no interceptors, and the writer commits its groups without
  the DuckDB insert (validation, records, the writer hand-off, responses).
- `interceptors-only`: every interceptor; CreateProject returns its request.
- `bare`: no interceptors; CreateProject returns its request (an echo inside
  our process: what the rest of the server costs by itself).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from typing import Any

import grpc

STAGES = ("full", "no-interceptors", "no-insert", "interceptors-only", "bare")


def _echo_create() -> None:
    from duckdb_spawn_server.api.project_servicer import ProjectServicer

    def create_project(self: ProjectServicer, request: Any, context: grpc.ServicerContext) -> Any:
        return request.project

    ProjectServicer.CreateProject = create_project  # type: ignore[method-assign]


def _drop_interceptors() -> None:
    from duckdb_spawn_server import app
    from duckdb_spawn_server.api import server

    def build_server(options: Any, servicers: Any, interceptors: Sequence[grpc.ServerInterceptor]) -> Any:
        return server.build_server(options, servicers, interceptors=[])

    app.build_server = build_server  # type: ignore[assignment]


def _skip_insert() -> None:
    from duckdb_spawn_server.storage import project_store, writer

    def insert_arrow(con: Any, table_sql: str, rows: Any) -> int:
        return int(rows.num_rows)

    writer.insert_arrow = project_store.insert_arrow = insert_arrow  # type: ignore[assignment]


def main() -> int:
    stage = os.environ.get("BENCH_STAGE", "full")
    if stage not in STAGES:
        print(f"BENCH_STAGE must be one of {', '.join(STAGES)}", file=sys.stderr)
        return 2
    if stage in ("no-interceptors", "no-insert", "bare"):
        _drop_interceptors()
    if stage == "no-insert":
        _skip_insert()
    if stage in ("interceptors-only", "bare"):
        _echo_create()
    from duckdb_spawn_server.main import main as serve

    return serve()


if __name__ == "__main__":
    sys.exit(main())
