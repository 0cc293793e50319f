"""The process table (/proc, Linux): a server's workers and the CPU time of a process, for the servers a test
or a bench starts and the PostgreSQL backends that serve them.

Standard library only: the benches' load clients import it too.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable
from pathlib import Path


def stat_fields(pid: int) -> list[str] | None:
    """The fields of /proc/PID/stat after the command name (which may hold spaces); None once it exited."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None


def _pids() -> list[int]:
    return [int(entry) for entry in os.listdir("/proc") if entry.isdigit()]


def children_of(parent: int) -> set[int]:
    """The processes whose parent is ``parent``."""
    return {pid for pid in _pids() if (fields := stat_fields(pid)) is not None and int(fields[1]) == parent}


def with_environment(name: str, value: str) -> set[int]:
    """The running processes whose environment sets ``name`` to ``value`` (inherited from whoever started them,
    so a command's every descendant carries it, also once it was orphaned)."""
    wanted = f"{name}={value}".encode()
    found = set()
    for pid in _pids():
        with contextlib.suppress(OSError):
            if wanted in Path(f"/proc/{pid}/environ").read_bytes().split(b"\0"):
                found.add(pid)
    return found


def cpu_by_process(pids: Iterable[int]) -> dict[int, float]:
    """User + system CPU seconds of each process (all its threads) that still runs."""
    ticks = os.sysconf("SC_CLK_TCK")
    return {
        pid: (int(fields[11]) + int(fields[12])) / ticks
        for pid in pids
        if (fields := stat_fields(pid)) is not None
    }


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of one process and all its threads; NaN once it has exited."""
    return cpu_by_process([pid]).get(pid, float("nan"))


def postgres_backends(database: str) -> list[int]:
    """The PostgreSQL backends serving ``database`` (their title is "postgres: USER DATABASE ADDRESS ...")."""
    found = []
    for pid in _pids():
        with contextlib.suppress(OSError):
            title = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").split()
            if title[:1] == [b"postgres:"] and len(title) > 2 and title[2] == database.encode():
                found.append(pid)
    return found
