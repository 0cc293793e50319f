"""Fixtures of the fault tests: `compass serve` as a real process that a test may kill -9, on a database of
its own, and a PostgreSQL cluster of its own that a test may stop.

``CompassServer`` starts the installed ``compass serve`` with only the ``COMPASS_*`` variables given here,
waits for ``/readyz`` and kills it with SIGKILL, never a gentler signal: the point is a process that gets no
chance to finish what it was doing. ``fresh_database_url`` is a new SQLite file or a new PostgreSQL database
(on the server of COMPASS_TEST_POSTGRES_URL), migrated, per test. ``postgres_cluster`` is a throwaway
cluster as scripts/with-postgres.sh makes one, so that stopping it disturbs no other test.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import pwd
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import asyncpg
import httpx
import pytest
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from compass import migrate
from compass.auth.jwt import issue_token
from director.tenant.service import tenant as tenant_service
from kernel.db import Database
from kernel.principal import ALL_SCOPES
from kernel.settings import Settings
from tests.conftest import _create_postgres_database

COMPASS = Path(sys.executable).with_name("compass")
START_SECONDS = 60.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def wait_until(
    condition: Callable[[], Any], *, seconds: float, what: str, every: float = 0.05
) -> None:
    """Polls ``condition`` (sync or async) until it is truthy; fails naming ``what`` after ``seconds``."""
    deadline = time.monotonic() + seconds
    while True:
        outcome = condition()
        if asyncio.iscoroutine(outcome):
            outcome = await outcome
        if outcome:
            return
        if time.monotonic() > deadline:
            pytest.fail(f"{what} did not happen within {seconds:.0f} s")
        await asyncio.sleep(every)


@dataclass
class CompassServer:
    """One `compass serve` at a time on fixed ports, data directory and database: kill it, start it again."""

    data_dir: Path
    database_url: str
    env: dict[str, str] = field(default_factory=dict)
    http_port: int = field(default_factory=free_port)
    https_port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0
    _log: IO[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def https_url(self) -> str:
        return f"https://127.0.0.1:{self.https_port}"

    @property
    def log_file(self) -> Path:
        return self.data_dir / "serve.log"

    @property
    def settings(self) -> Settings:
        """The server's settings as the test process sees them: to sign operator JWTs with its key."""
        return Settings(
            data_dir=self.data_dir,
            database_url=self.database_url,
            http_port=self.http_port,
            https_port=self.https_port,
            log_json=False,
        )

    @property
    def ca_file(self) -> Path:
        """The CA chain `compass serve` writes at start, for clients that verify its HTTPS listener."""
        return self.data_dir / "tls" / "client-ca.pem"

    def start(self) -> None:
        assert self.process is None or self.process.poll() is not None, "the server is already running"
        clean = {name: value for name, value in os.environ.items() if not name.startswith("COMPASS_")}
        clean.update(
            {
                "COMPASS_DATA_DIR": str(self.data_dir),
                "COMPASS_DATABASE_URL": self.database_url,
                "COMPASS_HTTP_PORT": str(self.http_port),
                "COMPASS_HTTPS_PORT": str(self.https_port),
                "COMPASS_LOG_LEVEL": "warning",
                **self.env,
            }
        )
        if self._log is None:
            self._log = self.log_file.open("ab")
        self._log.write(f"--- start {self.starts + 1}\n".encode())
        self._log.flush()
        self.process = subprocess.Popen(  # noqa: S603 - our own entry point, fixed arguments
            [str(COMPASS), "serve"], env=clean, stdout=self._log, stderr=subprocess.STDOUT
        )
        self.starts += 1

    async def ready(self) -> bool:
        try:
            async with httpx.AsyncClient(timeout=2) as client:
                return (await client.get(f"{self.url}/readyz")).status_code == 200
        except httpx.HTTPError:
            return False

    async def wait_ready(self) -> None:
        async def up() -> bool:
            assert self.process is not None and self.process.poll() is None, (
                f"compass serve exited with {self.process and self.process.returncode}:\n{self.log_tail()}"
            )
            return await self.ready()

        await wait_until(up, seconds=START_SECONDS, what="compass serve answering /readyz")

    async def restart(self) -> None:
        self.start()
        await self.wait_ready()

    def kill(self) -> None:
        """SIGKILL: no shutdown, no rollback, no flush; whatever was in flight is cut where it stood."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
        if self.process is not None:
            self.process.wait(timeout=30)

    def close(self) -> None:
        self.kill()
        if self._log is not None:
            self._log.close()
            self._log = None

    def log_tail(self, characters: int = 4000) -> str:
        try:
            return self.log_file.read_text(errors="replace")[-characters:]
        except OSError:
            return ""

    def operator_headers(self, tenant_id: str) -> dict[str, str]:
        token = issue_token(self.settings, tenant_id=tenant_id, scopes=sorted(ALL_SCOPES), ttl_seconds=3600)
        return {"Authorization": f"Bearer {token}", "Tenant": tenant_id}


async def migrated(url: str) -> str:
    await asyncio.to_thread(migrate.upgrade, url)
    return url


@pytest.fixture
async def fresh_database_url(backend: str, tmp_path: Path) -> str:
    """A database of this test alone: killing its server disturbs no other test's data."""
    if backend == "sqlite":
        return await migrated(f"sqlite+aiosqlite:///{tmp_path / 'compass.db'}")
    return await migrated(await _create_postgres_database())


@pytest.fixture
def compass_server(tmp_path: Path) -> Iterator[Callable[..., CompassServer]]:
    """Makes (not starts) servers; every one is killed when the test ends, however it ends."""
    made: list[CompassServer] = []

    def make(database_url: str, **env: str) -> CompassServer:
        data_dir = tmp_path / f"data-{len(made)}"
        data_dir.mkdir(mode=0o700)
        server = CompassServer(data_dir, database_url, env=env)
        made.append(server)
        return server

    try:
        yield make
    finally:
        for server in made:
            server.close()


@pytest.fixture
async def engine_of() -> AsyncIterator[Callable[[str], AsyncEngine]]:
    """Plain SQLAlchemy engines on a test's database, to look at the rows directly; disposed at the end."""
    engines: list[AsyncEngine] = []

    def make(url: str) -> AsyncEngine:
        engine = create_async_engine(url)
        engines.append(engine)
        return engine

    yield make
    for engine in engines:
        await engine.dispose()


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


def _user_exists(name: str) -> bool:
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
        finished = subprocess.run(  # noqa: S603 - PostgreSQL's own tools, fixed arguments
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


@pytest.fixture
def postgres_cluster() -> Iterator[PostgresCluster]:
    bindir = postgres_bindir()
    if bindir is None or not (bindir / "initdb").exists():
        pytest.skip("PostgreSQL is not installed; scripts/with-postgres.sh installs it")
    if os.geteuid() == 0 and (shutil.which("runuser") is None or not _user_exists("postgres")):
        pytest.skip("as root, PostgreSQL runs as the postgres user (scripts/with-postgres.sh creates it)")
    # Under /tmp, not the test's directory: the postgres user must reach it, and socket paths must stay short.
    cluster = PostgresCluster(bindir, Path(tempfile.mkdtemp(prefix="compass-faults-pg.")))
    try:
        cluster.create()
        yield cluster
    finally:
        cluster.destroy()
        shutil.rmtree(cluster.workdir, ignore_errors=True)
