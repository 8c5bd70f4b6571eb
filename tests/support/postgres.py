"""A real PostgreSQL for tests: a throwaway cluster in a temp dir on a free loopback port.

PostgreSQL refuses to run as root and CI runs as root, so under root every server command runs
as the `postgres` user (created by Debian's package); under any other user it runs as that user.
The binaries come from Debian's `postgresql-15` (`/usr/lib/postgresql/<major>/bin`, not on PATH);
`.ci/install-postgres` installs them when absent (`make test-tools` runs it). Without them the
tests that need PostgreSQL are skipped, saying why.

The cluster lives in a directory of its own under /tmp (pytest's tmp_path is root-only, the
`postgres` user could not enter it), is stopped and removed on exit, and can be stopped and
started again on the same port mid-test (catalog outages) or killed with SIGKILL (crashes).
"""

from __future__ import annotations

import glob
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SERVICE_USER = "postgres"


def find_bin_dir() -> Path | None:
    """The directory holding initdb/pg_ctl/postgres: $PG_BIN_DIR, Debian's newest major, or PATH."""
    configured = os.environ.get("PG_BIN_DIR")
    if configured:
        return Path(configured) if (Path(configured) / "pg_ctl").exists() else None
    majors = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"),
                    key=lambda p: int(re.sub(r"\D", "", Path(p).parts[-3]) or 0))
    if majors:
        return Path(majors[-1]).parent
    on_path = shutil.which("initdb")
    return Path(on_path).resolve().parent if on_path else None


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class PostgresServer:
    """One cluster: `start()` / `stop()` / `kill()` as often as a test needs, `close()` removes it."""

    bin_dir: Path
    root: Path
    port: int
    # fsync off by default: tests need speed, not durability against a power cut (the OS keeps
    # what PostgreSQL wrote, so a SIGKILL of PostgreSQL loses nothing). synchronous_commit stays
    # on: with it off a SIGKILL of PostgreSQL loses commits it had acknowledged (seen in the
    # lake probes: a lake commit vanished). A benchmark can ask for `durable=True` (all defaults).
    durable: bool = False
    settings: Mapping[str, str] = field(default_factory=dict)
    dbname: str = "postgres"
    user: str = SERVICE_USER

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def log_file(self) -> Path:
        return self.root / "postgres.log"

    # -- connection strings -------------------------------------------------------------------

    def conninfo(self, dbname: str | None = None) -> str:
        """libpq key=value form: psycopg and DuckDB's postgres extension both take it."""
        return f"dbname={dbname or self.dbname} host=127.0.0.1 port={self.port} user={self.user}"

    def ducklake_uri(self, dbname: str | None = None) -> str:
        return f"ducklake:postgres:{self.conninfo(dbname)}"

    # -- lifecycle -----------------------------------------------------------------------------

    def _run(self, *argv: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        """Runs a PostgreSQL tool as the service user (root) or as ourselves (anyone else)."""
        kwargs: dict = {}
        if os.geteuid() == 0:
            account = pwd.getpwnam(SERVICE_USER)
            kwargs = {"user": account.pw_uid, "group": account.pw_gid, "extra_groups": []}
        env = {"PATH": f"{self.bin_dir}:/usr/bin:/bin", "LC_ALL": "C", "HOME": str(self.root)}
        return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False,
                              cwd=self.root, env=env, **kwargs)

    def init(self) -> None:
        done = self._run(str(self.bin_dir / "initdb"), "-D", str(self.data_dir), "-A", "trust",
                         "-U", self.user, "-E", "UTF8", "--locale=C", "--no-sync", "--no-instructions")
        if done.returncode != 0:
            raise RuntimeError(f"initdb failed: {done.stderr.strip()[-2000:]}")

    def _options(self) -> str:
        options = {
            "port": str(self.port),
            "listen_addresses": "127.0.0.1",
            # The socket beside the data (Debian's /var/run/postgresql may be absent in CI).
            "unix_socket_directories": str(self.root),
            "max_connections": "200",
        }
        if not self.durable:
            options.update({"fsync": "off", "full_page_writes": "off"})
        options.update(self.settings)
        return " ".join(f"-c {key}={value}" for key, value in options.items())

    def start(self, timeout: float = 30) -> None:
        done = self._run(str(self.bin_dir / "pg_ctl"), "-D", str(self.data_dir), "-l", str(self.log_file),
                         "-o", self._options(), "-w", "-t", str(int(timeout)), "start", timeout=timeout + 10)
        if done.returncode != 0:
            raise RuntimeError(f"pg_ctl start failed: {done.stdout.strip()} {done.stderr.strip()} "
                               f"log: {self.log_tail()}")

    def stop(self, mode: str = "fast", timeout: float = 30) -> None:
        """Stops the server (mode: smart, fast, immediate); a no-op when it is not running."""
        if not self.running():
            return
        self._run(str(self.bin_dir / "pg_ctl"), "-D", str(self.data_dir), "-m", mode, "-w",
                  "-t", str(int(timeout)), "stop", timeout=timeout + 10)

    def restart(self) -> None:
        self.stop()
        self.start()

    def pid(self) -> int | None:
        try:
            return int((self.data_dir / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def running(self) -> bool:
        pid = self.pid()
        if pid is None:
            return False
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return True

    def kill(self) -> None:
        """SIGKILL to the postmaster (a crash): its backends exit on their own, the next start recovers."""
        pid = self.pid()
        if pid is not None:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            deadline = time.monotonic() + 10
            while self.running() and time.monotonic() < deadline:
                time.sleep(0.05)
            # Orphaned backends hold the shared memory until they notice; wait for the port to free.
            while _port_open(self.port) and time.monotonic() < deadline:
                time.sleep(0.05)

    def log_tail(self, chars: int = 2000) -> str:
        try:
            return self.log_file.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def close(self) -> None:
        try:
            self.stop(mode="immediate")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    def create_database(self, name: str) -> None:
        if not re.fullmatch(r"[a-z_][a-z0-9_]*", name):
            raise ValueError(f"not a plain database name: {name!r}")
        done = self._run(str(self.bin_dir / "psql"), "-h", "127.0.0.1", "-p", str(self.port), "-U", self.user,
                         "-d", "postgres", "-v", "ON_ERROR_STOP=1", "-c", f"CREATE DATABASE {name}")
        if done.returncode != 0:
            raise RuntimeError(f"CREATE DATABASE failed: {done.stderr.strip()}")


def _port_open(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.2)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def _owned_temp_dir() -> Path:
    """A fresh dir under /tmp the server user owns (mode 0700, as PostgreSQL insists)."""
    root = Path(tempfile.mkdtemp(prefix="duckdb-spawn-pg-", dir=os.environ.get("PG_TMP_ROOT", "/tmp")))
    if os.geteuid() == 0:
        account = pwd.getpwnam(SERVICE_USER)
        os.chown(root, account.pw_uid, account.pw_gid)
    return root


@contextmanager
def postgres_server(durable: bool = False, settings: Mapping[str, str] | None = None,
                    attempts: int = 3) -> Iterator[PostgresServer]:
    """Starts a fresh cluster (retrying on a port taken between probe and bind); always removes it."""
    bin_dir = find_bin_dir()
    if bin_dir is None:
        raise FileNotFoundError("PostgreSQL binaries not found: run .ci/install-postgres (make test-tools)")
    if os.geteuid() == 0:
        try:
            pwd.getpwnam(SERVICE_USER)
        except KeyError as missing:
            raise RuntimeError("running as root needs the 'postgres' user (Debian's package creates it)") from missing
    server = PostgresServer(bin_dir=bin_dir, root=_owned_temp_dir(), port=free_port(),
                            durable=durable, settings=dict(settings or {}))
    try:
        server.init()
        for attempt in range(attempts):
            try:
                server.start()
                break
            except RuntimeError:
                if attempt == attempts - 1 or "could not bind" not in server.log_tail():
                    raise
                server.port = free_port()
        yield server
    finally:
        server.close()


def postgres_or_skip() -> Path:
    """For fixtures: the binaries' directory, or skip the test saying how to get them."""
    bin_dir = find_bin_dir()
    if bin_dir is None:
        pytest.skip("PostgreSQL is not installed: `make test-tools` (or .ci/install-postgres, as root) installs it")
    return bin_dir
