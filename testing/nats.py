"""A real nats-server with JetStream for the tests and benches of the NATS event log: Debian's package
(scripts/install-nats.sh), on a free loopback port, storing in a directory the caller owns.

It is a ``ServedProcess``: a session of its own, a log file, ``stop()`` (SIGTERM, then SIGKILL), ``kill()``
(SIGKILL, nothing flushed), ``restart()`` on the same port and store, and stopped however a ``with`` block ends.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
from collections.abc import Iterator
from pathlib import Path

from testing.ports import LOOPBACK, free_port
from testing.processes import stat_fields
from testing.served import ServedProcess
from testing.waiting import wait_until_blocking

# Debian installs it in /usr/sbin, which a non-root PATH may lack.
DEBIAN_BINARY = Path("/usr/sbin/nats-server")


def nats_server_binary() -> str | None:
    """Where nats-server is, or None where it is not installed (scripts/install-nats.sh installs it)."""
    found = shutil.which("nats-server")
    if found is not None:
        return found
    return str(DEBIAN_BINARY) if os.access(DEBIAN_BINARY, os.X_OK) else None


class NatsServer(ServedProcess):
    """``nats-server -js`` on 127.0.0.1, storing in ``store_dir``; ready once a client connection gets the
    server's INFO line (JetStream has recovered its streams by then: it starts before the client listener)."""

    def __init__(self, store_dir: Path, *, log: Path | None = None) -> None:
        binary = nats_server_binary()
        if binary is None:
            raise FileNotFoundError("nats-server is not installed: run scripts/install-nats.sh")
        self.store_dir = store_dir
        port = free_port()
        command = [binary, "-js", "-sd", str(store_dir), "-a", LOOPBACK, "-p", str(port)]
        super().__init__(
            "nats-server",
            command,
            log=log or store_dir.with_name(f"{store_dir.name}.nats.log"),
            http_port=port,
        )

    @property
    def url(self) -> str:
        return f"nats://{LOOPBACK}:{self.http_port}"

    def ready(self) -> bool:
        try:
            with socket.create_connection((LOOPBACK, self.http_port), timeout=2) as connection:
                return connection.recv(4).startswith(b"INFO")
        except OSError:
            return False

    def stop(self, seconds: float = 30.0) -> int | None:
        """As ``ServedProcess.stop``, also when ``frozen()`` left it stopped (SIGTERM waits for SIGCONT)."""
        if self.running:
            os.kill(self.pid, signal.SIGCONT)
        return super().stop(seconds)

    @contextlib.contextmanager
    def frozen(self) -> Iterator[None]:
        """SIGSTOP for the block: connections stay open and nothing answers (a hung server, not a dead one)."""
        os.kill(self.pid, signal.SIGSTOP)
        try:
            wait_until_blocking(self._stopped, seconds=10, what="nats-server stopping on SIGSTOP")
            yield
        finally:
            os.kill(self.pid, signal.SIGCONT)

    def _stopped(self) -> bool:
        fields = stat_fields(self.pid)
        return fields is not None and fields[0] == "T"
