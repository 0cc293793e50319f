"""What `compass serve` keeps on disk is the operator's alone: the data directory 0700, the database (every
tenant's credentials in plain text) and the keys 0600, with the usual umask 022 and whatever modes an earlier
run or the operator left behind. Before, a data directory created beforehand kept 0755 and compass.db was 0644.

Each test runs `compass serve` as an operator does, in a fresh process, and reads the modes while it serves.
"""

from __future__ import annotations

import os
import sqlite3
import stat
from pathlib import Path

from kernel.db import Database
from testing.databases import migrate
from testing.served import ServedCompass

PRIVATE_FILES = ("compass.db", "jwt-signing-key.pem", "ca/ca.key", "tls/server-key.pem")
DATABASE_COMPANIONS = ("compass.db-wal", "compass.db-shm")


def _mode(path: Path) -> str:
    return oct(stat.S_IMODE(path.stat().st_mode))


def _modes(data_dir: Path, names: tuple[str, ...]) -> dict[str, str]:
    return {name: _mode(data_dir / name) for name in names if (data_dir / name).exists()}


def test_a_data_directory_created_beforehand_becomes_private(tmp_path: Path) -> None:
    # given: the operator made the directory with the usual umask
    data_dir = tmp_path / "compass"
    data_dir.mkdir(mode=0o755)
    data_dir.chmod(0o755)

    # when
    with ServedCompass(data_dir):
        directories = {name: _mode(data_dir / name) for name in (".", "ca", "tls")}
        files = _modes(data_dir, PRIVATE_FILES + DATABASE_COMPANIONS)

    # then
    assert directories == dict.fromkeys((".", "ca", "tls"), "0o700")
    assert set(PRIVATE_FILES) <= set(files)
    assert files == dict.fromkeys(files, "0o600")


async def test_a_database_left_readable_by_others_becomes_private(tmp_path: Path) -> None:
    # given: a database an earlier version migrated, readable by others, in a directory readable by others (migrated
    # in this process: a `compass migrate` of this version would make the directory private itself)
    data_dir = tmp_path / "compass"
    data_dir.mkdir()
    await migrate(f"sqlite+aiosqlite:///{data_dir / 'compass.db'}")
    data_dir.chmod(0o755)
    (data_dir / "compass.db").chmod(0o644)

    # when
    with ServedCompass(data_dir):
        files = _modes(data_dir, ("compass.db", *DATABASE_COMPANIONS))
        directory = _mode(data_dir)

    # then
    assert directory == "0o700"
    assert "compass.db" in files
    assert files == dict.fromkeys(files, "0o600")


def _posix_locks_held_on(path: Path) -> int:
    """This process's POSIX locks on the file, as the kernel lists them (``pid major:minor:inode``)."""
    inode, pid = path.stat().st_ino, os.getpid()
    count = 0
    for line in Path("/proc/locks").read_text().splitlines():
        fields = line.split()
        if "POSIX" in fields and str(pid) in fields and any(f.endswith(f":{inode}") for f in fields):
            count += 1
    return count


async def test_making_the_database_private_keeps_the_locks_of_connections_already_open(
    tmp_path: Path,
) -> None:
    # given: a connection of this process in a write transaction (SQLite holds a POSIX lock on the file)
    path = tmp_path / "compass.db"
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("CREATE TABLE t (x)")
    holder.execute("BEGIN IMMEDIATE")
    held = _posix_locks_held_on(path)
    assert held > 0

    # when: the same process opens the database again (closing any descriptor of a file drops its locks)
    database = Database(f"sqlite+aiosqlite:///{path}")
    try:
        # then
        assert _posix_locks_held_on(path) == held
    finally:
        await database.dispose()
        holder.execute("ROLLBACK")
        holder.close()
