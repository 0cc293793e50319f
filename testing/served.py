"""Server processes that a test or a bench starts: `compass serve` as an operator runs it, and any other server
command (the Director bench's baseline) under the same handle.

A process gets only the COMPASS_* variables given here (none leak in from the caller), the usual umask 022, a
log file, and a session of its own: a signal meant for the caller's process group (Ctrl-C) reaches it only
through ``stop()``, and ``stop()`` or ``kill()`` ends its workers too. As a context manager it is started and
ready inside the block and stopped however the block ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import ssl
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Self

import httpx

from compass.auth.jwt import issue_token
from kernel.principal import ALL_SCOPES
from kernel.settings import Settings
from testing.ports import free_port
from testing.processes import children_of
from testing.waiting import wait_until, wait_until_blocking

COMPASS = Path(sys.executable).with_name("compass")
ROOT = Path(__file__).resolve().parent.parent
OPERATORS_UMASK = 0o022
START_SECONDS = 60.0
STOP_SECONDS = 30.0


def operator_environment(**variables: str) -> dict[str, str]:
    """This process's environment without its COMPASS_* variables, plus ``variables``: what an operator's
    shell gives a `compass` command."""
    clean = {name: value for name, value in os.environ.items() if not name.startswith("COMPASS_")}
    return {**clean, **variables}


def run_command(executable: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """Runs one of the project's commands to its end, with ``env`` besides the operator's environment."""
    return subprocess.run(
        [str(executable), *args],
        env=operator_environment(**env),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def operator_headers(settings: Settings, tenant_id: str) -> dict[str, str]:
    """An operator of ``tenant_id`` with every scope: a JWT signed with the key of ``settings``' server."""
    token = issue_token(settings, tenant_id=tenant_id, scopes=sorted(ALL_SCOPES), ttl_seconds=86_400)
    return {"Authorization": f"Bearer {token}", "Tenant": tenant_id}


class ServerExited(RuntimeError):
    """The server process ended while it was expected to serve."""


class ServedProcess:
    """A server command answering HTTP on 127.0.0.1:``http_port``; ready once GET /healthz answers 200."""

    def __init__(
        self,
        name: str,
        command: Sequence[str],
        *,
        log: Path,
        env: Mapping[str, str] | None = None,
        http_port: int | None = None,
        before_exec: Callable[[], None] | None = None,
    ) -> None:
        self.name = name
        self.command = list(command)
        self.log = log
        self.env = dict(env or {})
        self.http_port = http_port or free_port()
        self.before_exec = before_exec
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def pid(self) -> int:
        assert self.process is not None, f"{self.name} was never started"
        return self.process.pid

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self) -> None:
        """Starts the process without waiting for it; each start is marked in the log."""
        assert not self.running, f"{self.name} is already running"
        with self.log.open("ab") as output:
            output.write(f"--- start {self.starts + 1}\n".encode())
            output.flush()
            self.process = subprocess.Popen(
                self.command,
                cwd=ROOT,
                env=operator_environment(**self.env),
                stdout=output,
                stderr=subprocess.STDOUT,
                umask=OPERATORS_UMASK,
                start_new_session=True,
                preexec_fn=self.before_exec,  # noqa: PLW1509 - a setrlimit at most, no threads in the child
            )
        self.starts += 1

    def ready(self) -> bool:
        try:
            return httpx.get(f"{self.http_url}/healthz", timeout=2).status_code == 200
        except (httpx.HTTPError, OSError):
            return False

    def check_alive(self) -> None:
        if not self.running:
            code = None if self.process is None else self.process.returncode
            raise ServerExited(f"{self.name} exited with {code}:\n{self.log_tail()}")

    def _up(self) -> bool:
        self.check_alive()
        return self.ready()

    def wait_ready(self, seconds: float = START_SECONDS) -> None:
        wait_until_blocking(
            self._up, seconds=seconds, what=f"{self.name} being ready", every=0.1, detail=self.log_tail
        )

    async def restart(self, seconds: float = START_SECONDS) -> None:
        """Starts it (again, after ``kill()``) and waits until it is ready without blocking the event loop."""
        self.start()
        await wait_until(
            lambda: asyncio.to_thread(self._up),
            seconds=seconds,
            what=f"{self.name} being ready",
            every=0.1,
            detail=self.log_tail,
        )

    def stop(self, seconds: float = STOP_SECONDS) -> int | None:
        """SIGTERM, then SIGKILL to its whole process group if it has not exited within ``seconds``; the exit
        status (None if it never started)."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=seconds)
            except subprocess.TimeoutExpired:
                self.kill()
        return self.process.returncode

    def kill(self) -> None:
        """SIGKILL to the process and its workers: no shutdown, no rollback, no flush; whatever was in flight is
        cut where it stood."""
        if self.process is None:
            return
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=STOP_SECONDS)

    def children(self) -> set[int]:
        """The running process's children: the workers of `compass serve --workers N`."""
        return children_of(self.process.pid) if self.process is not None else set()

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def __enter__(self) -> Self:
        self.start()
        try:
            self.wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()


class ServedCompass(ServedProcess):
    """`compass serve` (``--workers`` N when ``workers`` > 1) on a data directory and database, on free ports.

    Ready once both listeners answer /readyz (the HTTPS one verified with the CA chain the server writes into
    its data directory) and, with workers, every worker runs. ``env`` adds COMPASS_* settings; ``command``
    replaces `compass serve` (the fleet bench runs it under a profiler). The log is written beside the data
    directory, which `compass serve` creates with its own modes."""

    def __init__(
        self,
        data_dir: Path,
        database_url: str | None = None,
        *,
        workers: int = 1,
        env: Mapping[str, str] | None = None,
        command: Sequence[str] | None = None,
        log: Path | None = None,
        before_exec: Callable[[], None] | None = None,
    ) -> None:
        http_port, self.https_port = free_port(), free_port()
        self.data_dir = data_dir
        self.database_url = database_url
        self.workers = workers
        variables = {
            "COMPASS_DATA_DIR": str(data_dir),
            "COMPASS_HTTP_PORT": str(http_port),
            "COMPASS_HTTPS_PORT": str(self.https_port),
            **({"COMPASS_DATABASE_URL": database_url} if database_url else {}),
            **(env or {}),
        }
        serve = [str(COMPASS), "serve", *(["--workers", str(workers)] if workers > 1 else [])]
        super().__init__(
            "compass serve",
            command or serve,
            log=log or data_dir.with_name(f"{data_dir.name}.serve.log"),
            env=variables,
            http_port=http_port,
            before_exec=before_exec,
        )

    @property
    def https_url(self) -> str:
        return f"https://127.0.0.1:{self.https_port}"

    @property
    def ca_file(self) -> Path:
        """The CA chain `compass serve` writes at start, for clients that verify its HTTPS listener."""
        return self.data_dir / "tls" / "client-ca.pem"

    @property
    def settings(self) -> Settings:
        """The server's settings as the caller sees them: to sign operator JWTs with its key."""
        return Settings(
            data_dir=self.data_dir,
            database_url=self.database_url,
            http_port=self.http_port,
            https_port=self.https_port,
            log_json=False,
        )

    def operator_headers(self, tenant_id: str) -> dict[str, str]:
        return operator_headers(self.settings, tenant_id)

    def ready(self) -> bool:
        try:
            plain = httpx.get(f"{self.http_url}/readyz", timeout=2)
            if plain.status_code != 200:
                return False
            verify = ssl.create_default_context(cafile=str(self.ca_file))
            secure = httpx.get(f"{self.https_url}/readyz", timeout=2, verify=verify)
        except (httpx.HTTPError, OSError, ssl.SSLError):
            return False
        workers = self.workers if self.workers > 1 else 0
        return secure.status_code == 200 and len(self.children()) >= workers
