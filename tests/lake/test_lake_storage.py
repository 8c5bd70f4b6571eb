"""The servers of this package really run on the lake: a catalog in PostgreSQL, Parquet in the data path."""

from __future__ import annotations

import psycopg
from duckdb_spawn.v1 import project_service_pb2 as pb

from tests.api.test_export import ipc_bytes, source_rows
from tests.support.postgres import PostgresServer
from tests.support.servers import InProcessServer, Stubs


def test_rows_land_in_the_lake_catalog_and_data_path(server: tuple[InProcessServer, Stubs],
                                                      postgres: PostgresServer) -> None:
    app, stubs = server[0].app, server[1]
    assert app.storage is not None and app.storage.database.lake
    table = source_rows(5_000)
    imported = stubs.projects.ImportProjects(iter([pb.ImportProjectsRequest(arrow_ipc=ipc_bytes(table))]), timeout=60)
    assert imported.imported_count == 5_000
    data_dir = server[0].db_path.parent / "lake-data"
    assert list(data_dir.rglob("*.parquet")), "the import wrote Parquet files into LAKE_DATA_PATH"
    schema = app.settings.lake_metadata_schema
    with psycopg.connect(postgres.conninfo()) as catalog:
        tables = catalog.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = %s",
                                 [schema]).fetchall()
    assert ("ducklake_snapshot",) in tables, "the catalog lives in PostgreSQL"
    assert not server[0].db_path.exists(), "no DuckDB file: DUCKDB_PATH's directory holds only local scratch"
    total = stubs.projects.ListProjects(pb.ListProjectsRequest(page_size=1), timeout=30).total_size
    assert total == 5_000
