"""The processes the demo starts, and the signals that end it.

Each process runs in a session of its own (its own process group), so a Ctrl-C in the terminal reaches only the
demo, which then stops every process it started: SIGTERM to each group, SIGKILL to a group still there after
``STOP_SECONDS``. A process is registered before a signal can interrupt the demo (``Signals.held``), so none is
ever started without being stopped.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

from demo.checks import StepFailed

LOOPBACK = "127.0.0.1"
BIN = Path(sys.executable).parent
STOP_SECONDS = 10.0
RUN_SECONDS = 60.0
# Settings the user's shell may hold for their own server, runtime or shop: the demo's processes get only its own.
FOREIGN_PREFIXES = ("COMPASS_", "AGENT_", "GATEWAY_", "EVENTS_", "SHOP_")
FOREIGN_NAMES = frozenset({"CONNECTOR_URL", "RUNTIME_ID", "TENANT", "TOKEN"})


def free_port() -> int:
    """A loopback port nothing listens on now (bound once to get a number from the kernel, then released)."""
    with socket.socket() as probe:
        probe.bind((LOOPBACK, 0))
        return int(probe.getsockname()[1])


def command(name: str) -> str:
    """One of the project's commands, installed beside the interpreter running the demo."""
    return str(BIN / name)


class Interrupted(BaseException):
    """SIGINT or SIGTERM reached the demo: like KeyboardInterrupt, not caught by ``except Exception``."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


class Signals:
    """SIGINT and SIGTERM raise ``Interrupted`` once; inside ``held()`` one waits until the block has ended.

    After the first (and once ``stopping()`` was called) they are ignored: stopping is bounded, and a second
    Ctrl-C must not cut it short and leave processes behind."""

    def __init__(self) -> None:
        self._holding = 0
        self._pending: int | None = None
        self._stopping = False

    def install(self) -> None:
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, self._handle)

    def stopping(self) -> None:
        self._stopping = True

    def _handle(self, signum: int, _frame: FrameType | None) -> None:
        if self._stopping:
            return
        if self._holding:
            self._pending = self._pending or signum
            return
        self._stopping = True
        raise Interrupted(signum)

    @contextlib.contextmanager
    def held(self) -> Iterator[None]:
        self._holding += 1
        try:
            yield
        finally:
            self._holding -= 1
        if not self._holding and self._pending is not None and not self._stopping:
            signum, self._pending = self._pending, None
            self._stopping = True
            raise Interrupted(signum)


def environment(variables: Mapping[str, str]) -> dict[str, str]:
    """The demo's environment without anyone else's settings, plus ``variables``."""
    own = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(FOREIGN_PREFIXES) and name not in FOREIGN_NAMES
    }
    return {**own, **variables}


@dataclass
class Started:
    """A process the demo started; its output goes to ``log``."""

    name: str
    popen: subprocess.Popen[bytes]
    log: Path

    @property
    def running(self) -> bool:
        return self.popen.poll() is None

    def tail(self, lines: int = 15) -> str:
        try:
            text = self.log.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(f"      | {line}" for line in text.splitlines()[-lines:]) or "      | (empty log)"

    def check_alive(self) -> None:
        if not self.running:
            raise StepFailed(f"{self.name} exited with status {self.popen.returncode}; its log ends:\n{self.tail()}")


@dataclass
class Processes:
    """Every process the demo started, in the order started; ``stop_all`` ends them in the reverse order."""

    signals: Signals
    logs: Path
    started: list[Started] = field(default_factory=list)

    def start(self, name: str, argv: Sequence[str], *, env: Mapping[str, str], cwd: Path) -> Started:
        """A server: its output and errors go to its log."""
        return self._spawn(name, argv, env=env, cwd=cwd, output=self._log(name))

    def run(self, name: str, argv: Sequence[str], *, env: Mapping[str, str], cwd: Path) -> str:
        """A command that finishes: its standard output, once it exited with 0 within ``RUN_SECONDS``."""
        output = self._log(name).with_suffix(".out")
        started = self._spawn(name, argv, env=env, cwd=cwd, output=output, errors=self._log(name))
        try:
            status = started.popen.wait(timeout=RUN_SECONDS)
        except subprocess.TimeoutExpired:
            raise StepFailed(f"`{name}` did not finish within {RUN_SECONDS:g} s:\n{started.tail()}") from None
        if status != 0:
            raise StepFailed(f"`{name}` exited with status {status}:\n{started.tail()}")
        return output.read_text(errors="replace").strip()

    def _log(self, name: str) -> Path:
        return self.logs / f"{name.replace(' ', '-')}.log"

    def _spawn(
        self,
        name: str,
        argv: Sequence[str],
        *,
        env: Mapping[str, str],
        cwd: Path,
        output: Path,
        errors: Path | None = None,
    ) -> Started:
        with self.signals.held(), contextlib.ExitStack() as files:
            stdout = files.enter_context(output.open("ab"))
            stderr = files.enter_context(errors.open("ab")) if errors is not None else subprocess.STDOUT
            popen = subprocess.Popen(  # noqa: S603 - the project's own commands, with arguments the demo made
                list(argv),
                cwd=cwd,
                env=environment(env),
                stdin=subprocess.DEVNULL,
                stdout=stdout,
                stderr=stderr,
                start_new_session=True,
            )
            started = Started(name, popen, errors or output)
            self.started.append(started)
        return started

    def stop_all(self) -> int:
        """SIGTERM to every group still running, SIGKILL to those left after ``STOP_SECONDS``; how many ran."""
        running = [started for started in reversed(self.started) if started.running]
        for started in running:
            _signal_group(started.popen, signal.SIGTERM)
        deadline = time.monotonic() + STOP_SECONDS
        for started in running:
            try:
                started.popen.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                _signal_group(started.popen, signal.SIGKILL)
                started.popen.wait(timeout=STOP_SECONDS)
        # A group outlives its leader when a child stays behind (one that ignored the SIGTERM); the leader was
        # reaped a moment ago, so its id still names that group.
        for started in running:
            _signal_group(started.popen, signal.SIGKILL)
        return len(running)


def _signal_group(popen: subprocess.Popen[bytes], signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(popen.pid, signum)
