"""What the fault tests do to a server and its database: read its tenants and transactions straight from the
database, kill a process, and run a throwaway PostgreSQL cluster of one test (as scripts/with-postgres.sh
makes one) that the test stops and starts."""

from __future__ import annotations

import asyncio
import contextlib
import os
import pwd
import shutil
import signal
import sqlite3
import subprocess
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
from sqlalchemy.engine import make_url

from director.tenant.service import tenant as tenant_service
from kernel.db import Database
from testing.ports import free_port


async def create_tenant(database_url: str) -> str:
    database = Database(database_url)
    try:
        async with database.transaction() as session:
            tenant = await tenant_service.create(session, f"faults-{uuid.uuid4().hex[:10]}")
        return tenant.id
    finally:
        await database.dispose()


def kill_process(process: subprocess.Popen[Any]) -> None:
    with contextlib.suppress(ProcessLookupError):
        process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)


def write_transaction_probe(database_url: str) -> Callable[[], Any]:
    """True while some transaction of the server holds uncommitted writes."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":

        def sqlite_writer_active() -> bool:
            connection = sqlite3.connect(str(url.database), timeout=0, isolation_level=None)
            try:
                connection.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError:
                return True  # the write lock is held: a transaction of the server is writing
            else:
                connection.execute("ROLLBACK")
                return False
            finally:
                connection.close()

        return lambda: asyncio.to_thread(sqlite_writer_active)

    async def postgres_writer_active() -> bool:
        connection = await asyncpg.connect(
            host=url.host, port=url.port, user=url.username, password=url.password, database=url.database
        )
        try:
            found = await connection.fetchval(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_xid IS NOT NULL"
            )
        finally:
            await connection.close()
        return bool(found)

    return postgres_writer_active


def user_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


def postgres_bindir() -> Path | None:
    named = os.environ.get("COMPASS_TEST_POSTGRES_BINDIR")
    if named:
        return Path(named)
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda path: int(path.parts[-3]))
    return found[-1].parent if found else None


@dataclass
class PostgresCluster:
    """A throwaway PostgreSQL cluster of one test, on a free loopback port, that the test stops and starts."""

    bindir: Path
    workdir: Path
    port: int = field(default_factory=free_port)

    @property
    def run_as(self) -> list[str]:
        # PostgreSQL refuses to run as root: as scripts/with-postgres.sh does, run it as the postgres user.
        return ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []

    @property
    def url(self) -> str:
        return f"postgresql+asyncpg://compass@127.0.0.1:{self.port}/compass"

    def _run(self, *command: str) -> None:
        finished = subprocess.run(
            [*self.run_as, str(self.bindir / command[0]), *command[1:]],
            check=False,
            capture_output=True,
            text=True,
            timeout=90,
        )
        if finished.returncode != 0:
            output = finished.stderr or finished.stdout
            raise RuntimeError(f"{command[0]} failed ({finished.returncode}): {output}")

    def create(self) -> None:
        data, sockets = self.workdir / "data", self.workdir / "socket"
        self.workdir.chmod(0o755)
        data.mkdir()
        sockets.mkdir()
        if os.geteuid() == 0:
            shutil.chown(data, "postgres")
            shutil.chown(sockets, "postgres")
        self._run("initdb", "-D", str(data), "-U", "compass", "-A", "trust", "-E", "UTF8", "--no-sync")
        self.start()
        self._run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "compass", "compass")

    def start(self) -> None:
        options = f"-p {self.port} -k {self.workdir / 'socket'} -c listen_addresses=127.0.0.1 -c fsync=off"
        log = self.workdir / "socket" / "log"
        self._run("pg_ctl", "-D", str(self.workdir / "data"), "-l", str(log), "-w", "start", "-o", options)

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.workdir / "data"), "-m", mode, "-w", "stop")

    def destroy(self) -> None:
        with contextlib.suppress(RuntimeError, subprocess.SubprocessError, OSError):
            self.stop("immediate")
