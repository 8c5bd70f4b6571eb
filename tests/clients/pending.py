"""RPCs that answer UNIMPLEMENTED on main until issues 3/4 (AdminService tables, migrations and
schemas) and 6 (MonitoringService metrics) are merged.

The recipes and client methods for them follow the contract in protos/; the client tests accept
UNIMPLEMENTED for exactly these methods. Empty this set once those issues are merged.
"""

NOT_YET_ON_MAIN = {
    "duckdb_spawn.v1.AdminService/UpdateTable",
    "duckdb_spawn.v1.AdminService/DeleteTable",
    "duckdb_spawn.v1.AdminService/GetSchema",
    "duckdb_spawn.v1.AdminService/RefreshSchemas",
    "duckdb_spawn.v1.MonitoringService/GetSystemMetrics",
}
