"""`compass serve` as an operator runs it: a fresh process with only the COMPASS_* variables a test gives it."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

COMPASS = Path(sys.executable).with_name("compass")
OPERATORS_UMASK = 0o022


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def environment(data_dir: Path, **extra: str) -> dict[str, str]:
    clean = {name: value for name, value in os.environ.items() if not name.startswith("COMPASS_")}
    return {**clean, "COMPASS_DATA_DIR": str(data_dir), "COMPASS_LOG_JSON": "true", **extra}


@dataclass(frozen=True)
class Served:
    http_port: int

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"


@contextmanager
def serving(data_dir: Path, *, before_exec: Callable[[], None] | None = None, **extra: str) -> Iterator[Served]:
    """`compass serve` on free ports, with the usual umask 022, until the block ends; it has answered /healthz
    when the block starts. ``before_exec`` runs in the child before the command (e.g. to lower a limit)."""
    served = Served(free_port())
    variables = environment(
        data_dir, COMPASS_HTTP_PORT=str(served.http_port), COMPASS_HTTPS_PORT=str(free_port()), **extra
    )
    process = subprocess.Popen(  # noqa: S603 - our own entry point, fixed arguments
        [str(COMPASS), "serve"],
        env=variables,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        umask=OPERATORS_UMASK,
        preexec_fn=before_exec,  # noqa: PLW1509 - nothing but a setrlimit, no threads in the child
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, process.communicate()[1]
            assert time.monotonic() < deadline, "compass serve did not answer /healthz within 60 s"
            try:
                if httpx.get(f"{served.http_url}/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        yield served
    finally:
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=30)
