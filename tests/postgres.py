"""A real PostgreSQL server for the tests: started once per run, one database per test.

The server runs from the machine's PostgreSQL binaries (`pg_ctl` on PATH, else Debian's
/usr/lib/postgresql/<version>/bin) in a temporary folder, on a free loopback port, with fsync
off (a test server: speed over durability). PostgreSQL refuses to run as root, so as root it
runs as the `postgres` user. Each test gets a database cloned from a migrated template
(CREATE DATABASE ... TEMPLATE: ~30-40 ms; dropping one costs ~0.3 s, so they stay until the
server stops with the run).

Without binaries the PostgreSQL tests skip, saying so; with REQUIRE_POSTGRES=1 (.ci/run) a
missing server fails them instead.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import glob
import itertools
import os
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from bot.ledger.postgres_db import migrate

REQUIRED = os.environ.get("REQUIRE_POSTGRES", "") not in ("", "0")
TEMPLATE = "ledger_template"


def find_binaries() -> Path | None:
    """The folder holding pg_ctl, initdb and postgres, or None."""
    found = shutil.which("pg_ctl")
    if found is not None:
        return Path(found).resolve().parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), reverse=True)
    return Path(candidates[0]).parent if candidates else None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _as_server_user(command: list[str]) -> list[str]:
    """The command as the `postgres` user when we are root (PostgreSQL refuses root)."""
    if os.geteuid() != 0:
        return command
    return ["runuser", "-u", "postgres", "--", *command]


@dataclass
class PostgresServer:
    """A running server and the template every test database is cloned from."""

    folder: Path
    binaries: Path
    port: int
    _numbers: itertools.count[int]

    def url(self, database: str = "postgres") -> str:
        """A connection URL for one database on this server."""
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    async def new_database(self, template: str = TEMPLATE) -> str:
        """A fresh database cloned from the migrated template; its URL."""
        name = f"t_{os.getpid()}_{next(self._numbers)}"
        conn = await asyncpg.connect(self.url())
        try:
            await conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
        finally:
            await conn.close()
        return self.url(name)

    def stop(self) -> None:
        """Stop the server at once and remove its folder."""
        subprocess.run(
            _as_server_user([str(self.binaries / "pg_ctl"), "-D", str(self.folder / "data"),
                             "-m", "immediate", "stop"]),
            capture_output=True, check=False,
        )  # fmt: skip
        shutil.rmtree(self.folder, ignore_errors=True)


def start_server() -> PostgresServer:
    """initdb, start on a free port, and build the migrated template database."""
    binaries = find_binaries()
    if binaries is None:
        raise FileNotFoundError("no PostgreSQL binaries (pg_ctl) on PATH or /usr/lib/postgresql")
    folder = Path(tempfile.mkdtemp(prefix="ledger-pg-"))
    os.chmod(folder, 0o755)
    data = folder / "data"
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres", "postgres")
    run = {"capture_output": True, "check": True, "text": True}
    subprocess.run(
        _as_server_user([str(binaries / "initdb"), "-D", str(data), "-U", "postgres",
                         "--auth=trust", "-E", "UTF8", "--locale=C"]),
        **run,  # type: ignore[call-overload]
    )  # fmt: skip
    port = _free_port()
    options = (
        f"-p {port} -c listen_addresses=127.0.0.1 -c unix_socket_directories='{folder}' "
        "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300"
    )
    subprocess.run(
        _as_server_user([str(binaries / "pg_ctl"), "-D", str(data), "-o", options, "-w",
                         "-l", str(folder / "server.log"), "start"]),
        **run,  # type: ignore[call-overload]
    )  # fmt: skip
    server = PostgresServer(folder, binaries, port, itertools.count(1))
    try:
        # Its own thread: the caller may be a fixture set up inside a running event loop.
        with concurrent.futures.ThreadPoolExecutor(1) as thread:
            thread.submit(asyncio.run, _make_template(server)).result()
    except BaseException:
        server.stop()
        raise
    return server


async def _make_template(server: PostgresServer) -> None:
    conn = await asyncpg.connect(server.url())
    try:
        await conn.execute(f'CREATE DATABASE "{TEMPLATE}"')
    finally:
        await conn.close()
    conn = await asyncpg.connect(server.url(TEMPLATE))
    try:
        await migrate(conn, quiet=True)
    finally:
        await conn.close()  # a template with a connection open cannot be cloned
