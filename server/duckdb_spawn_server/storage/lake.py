"""Attaching a DuckLake: the catalog in PostgreSQL, the Parquet files on a shared volume or in S3.

Every replica runs its own in-memory DuckDB and attaches the same lake; each
connection then works in it (`USE`), so the storage code runs the same SQL as
on the embedded file. The extensions come from the pinned PyPI wheels
(`duckdb-extension-ducklake`, `-postgres`, `-httpfs`), installed into a
directory of the service's own: nothing is downloaded at run time.

The ATTACH and SECRET statements take no parameters, so their values (from
the environment, never from a client) are validated by config.py and quoted
here; the catalog's connection string and the S3 keys are never logged.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

import duckdb

LAKE_ALIAS = "lake"
EXTENSIONS = ("ducklake", "postgres", "httpfs")


@dataclass(frozen=True)
class S3Settings:
    endpoint: str = ""  # host:port; empty: AWS
    region: str = "us-east-1"
    access_key_id: str = ""
    secret_access_key: str = ""
    url_style: str = "vhost"
    use_ssl: bool = True


@dataclass(frozen=True)
class LakeSettings:
    catalog: str  # libpq conninfo of the PostgreSQL catalog
    data_path: str  # a directory ending in /, or s3://bucket/prefix/
    metadata_schema: str = "ducklake"
    s3: S3Settings | None = None
    maintenance_interval: float = 300.0  # seconds between the leader's rounds (storage/lake_maintenance.py)
    snapshot_retention: float = 86_400.0  # seconds a snapshot stays readable

    def __repr__(self) -> str:  # the conninfo may hold a password, the S3 settings keys
        return f"LakeSettings(data_path={self.data_path!r}, metadata_schema={self.metadata_schema!r})"


_PASSWORD = re.compile(r"(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)", re.IGNORECASE)


def redact(text: str) -> str:
    """`text` without passwords: DuckDB's errors about the catalog quote its whole connection string."""
    return _PASSWORD.sub(r"\1***", text)


def literal(value: str) -> str:
    """A SQL string literal (for statements that take no parameters)."""
    return "'" + value.replace("'", "''") + "'"


def load_extensions(con: duckdb.DuckDBPyConnection) -> None:
    import duckdb_extensions  # the lake extra: only a lake needs it

    for name in EXTENSIONS:
        duckdb_extensions.import_extension(name, con=con)
        con.execute(f"LOAD {name}")


def extension_directory(local_dir: Path) -> str:
    """Where the wheels' extensions are installed: beside the service's local files, never ~/.duckdb."""
    return str(local_dir / ".duckdb-extensions")


def attach(con: duckdb.DuckDBPyConnection, settings: LakeSettings) -> None:
    """Attaches the lake to `con`'s database instance and makes it the default for `con`."""
    if settings.s3 is not None and settings.data_path.startswith("s3://"):
        s3 = settings.s3
        options = [("TYPE", "s3"), ("REGION", literal(s3.region)), ("URL_STYLE", literal(s3.url_style)),
                   ("USE_SSL", "true" if s3.use_ssl else "false")]
        if s3.endpoint:
            options.append(("ENDPOINT", literal(s3.endpoint)))
        if s3.access_key_id:
            options += [("KEY_ID", literal(s3.access_key_id)), ("SECRET", literal(s3.secret_access_key))]
        con.execute("CREATE OR REPLACE SECRET lake_s3 (" + ", ".join(f"{k} {v}" for k, v in options) + ")")
    if not settings.data_path.startswith("s3://"):  # made here, so readiness can tell a missing volume
        os.makedirs(settings.data_path, exist_ok=True)
    con.execute(f"ATTACH {literal('ducklake:postgres:' + settings.catalog)} AS {LAKE_ALIAS} "
                f"(DATA_PATH {literal(settings.data_path)}, METADATA_SCHEMA {literal(settings.metadata_schema)})")
    use(con)


def use(con: duckdb.DuckDBPyConnection) -> None:
    """Each connection (cursor) starts in the in-memory database: point it at the lake."""
    con.execute(f"USE {LAKE_ALIAS}")
