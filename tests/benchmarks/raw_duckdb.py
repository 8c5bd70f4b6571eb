"""Raw DuckDB 1.5.5 doing the work of a bulk RPC, in a process of its own (the baseline of bench_bulk).

    python -m tests.benchmarks.raw_duckdb DB_FILE ACTION ARGUMENT

One action per process, so the peak RSS it reports (VmHWM) is its own. Prints one JSON line:
{"seconds": ..., "rows" or "bytes": ..., "peak_rss_mb": ...}. The database file holds a
`projects` table shaped like the service's (created by `load`).
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import duckdb
import pyarrow as pa

COLUMNS = ("project_id UUID PRIMARY KEY, project_name VARCHAR NOT NULL, description VARCHAR, "
           "total_amount DECIMAL(20,2) NOT NULL, maturity_years INTEGER NOT NULL, expected_tri DECIMAL(5,2) NOT NULL, "
           "dscr DECIMAL(5,2) NOT NULL, status VARCHAR NOT NULL, creation_date DATE NOT NULL, "
           "last_updated TIMESTAMP NOT NULL, currency_code VARCHAR NOT NULL, _create_time TIMESTAMP, "
           "_update_time TIMESTAMP, _schema_version VARCHAR, _etag VARCHAR")
DATA = ("project_id, project_name, description, total_amount, maturity_years, expected_tri, dscr, status, "
        "creation_date, last_updated, currency_code")


def connect(path: str) -> duckdb.DuckDBPyConnection:
    """With the server's memory limit and threads (RAW_MEMORY_LIMIT, RAW_THREADS), when the benchmark sets them."""
    config: dict[str, str | bool] = {"autoinstall_known_extensions": False, "autoload_known_extensions": False}
    for variable, setting in (("RAW_MEMORY_LIMIT", "memory_limit"), ("RAW_THREADS", "threads")):
        if os.environ.get(variable):
            config[setting] = os.environ[variable]
    return duckdb.connect(path, config=config)


def load(con: duckdb.DuckDBPyConnection, arrow_file: str) -> dict[str, float]:
    """The same rows as an import: one Arrow insert naming the data columns, in one transaction."""
    con.execute(f"CREATE OR REPLACE TABLE projects ({COLUMNS})")
    table = pa.ipc.open_stream(pa.OSFile(arrow_file)).read_all()
    start = time.perf_counter()
    con.begin()
    con.from_arrow(table.__arrow_c_stream__()).create_view("incoming")
    con.execute(f"INSERT INTO projects ({DATA}, _create_time, _update_time, _schema_version, _etag) "
                f"SELECT gen_random_uuid(), {DATA.split(', ', 1)[1]}, now(), now(), 'v', 'e' FROM incoming")
    con.commit()
    return {"seconds": time.perf_counter() - start, "rows": table.num_rows}


def export(con: duckdb.DuckDBPyConnection, fmt: str, query: str, out: Path) -> dict[str, float]:
    """DuckDB's own writer for the format (COPY), or its Arrow stream for IPC, into a file."""
    start = time.perf_counter()
    if fmt == "arrow":
        reader = con.execute(query).to_arrow_reader(8192)
        with pa.OSFile(str(out), "wb") as sink, pa.ipc.new_stream(sink, reader.schema) as writer:
            for batch in reader:
                writer.write_batch(batch)
    else:
        options = {"jsonl": "FORMAT JSON", "csv": "FORMAT CSV, HEADER", "parquet": "FORMAT PARQUET"}[fmt]
        con.execute(f"COPY ({query}) TO '{out}' ({options})")
    seconds = time.perf_counter() - start
    size = out.stat().st_size
    out.unlink()
    return {"seconds": seconds, "bytes": size}


def walk(con: duckdb.DuckDBPyConnection, spec: str) -> dict[str, float]:
    """Pages of a query walked by keyset, as a client of raw DuckDB would: each page continues after the
    previous one's last (amount, id). `spec`: {"where": ..., "pages": N, "page_size": M}."""
    options = json.loads(spec)
    sql = (f"SELECT * FROM projects WHERE {options['where']} {{after}} "
           "ORDER BY total_amount DESC, project_id DESC LIMIT ?")
    start = time.perf_counter()
    after, params, rows = "", [], 0
    for _ in range(options["pages"]):
        page = con.execute(sql.format(after=after), [*params, options["page_size"] + 1]).fetchall()
        rows += min(len(page), options["page_size"])
        if len(page) <= options["page_size"]:
            break
        last = page[options["page_size"] - 1]
        after, params = "AND (total_amount, project_id) < (?, ?)", [last[3], last[0]]
    return {"seconds": time.perf_counter() - start, "rows": rows}


def run_query(con: duckdb.DuckDBPyConnection, query: str) -> dict[str, float]:
    start = time.perf_counter()
    rows = con.execute(query).fetchall()
    return {"seconds": time.perf_counter() - start, "rows": len(rows)}


def peak_rss_mb() -> float:
    """This program's own high-water RSS (VmHWM starts afresh at exec; getrusage's maxrss would
    carry the forking parent's)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def main() -> int:
    path, action, argument = sys.argv[1], sys.argv[2], sys.argv[3]
    con = connect(path)
    if action == "load":
        result = load(con, argument)
    elif action.startswith("export-"):
        fmt = action.removeprefix("export-")
        result = export(con, fmt, argument, Path(path).with_suffix(f".out.{fmt}"))
    elif action == "walk":
        result = walk(con, argument)
    else:
        result = run_query(con, argument)
    con.close()
    result["peak_rss_mb"] = peak_rss_mb()
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
