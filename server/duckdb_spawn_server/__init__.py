"""duckdb-spawn: a gRPC data product over DuckDB."""

__version__ = "0.1.0"
