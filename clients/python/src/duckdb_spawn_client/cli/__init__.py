"""The `duckdb-spawn` command line: every RPC as a subcommand, tables or JSON out."""
