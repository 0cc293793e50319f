"""Private files written so that a crash leaves the old content or the new, never half of it: the agent's key and
certificates, a runtime-side listener's generated serving certificate."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path


def stage_private_file(final: Path, content: bytes) -> Path:
    """``content`` fsynced into a 0600 temporary file beside ``final``; the caller renames it over ``final``
    (several files may be staged first and renamed together)."""
    temporary = final.with_name(f".{final.name}.{os.getpid()}.tmp")
    with contextlib.suppress(FileNotFoundError):
        temporary.unlink()
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(content)
        handle.flush()
        os.fsync(handle.fileno())
    return temporary


def sync_directory(directory: Path) -> None:
    """The renames and unlinks made in ``directory`` made durable: without it a power loss may undo them."""
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def write_private_file(path: Path, content: bytes) -> None:
    """0600, through a temporary file and a rename, durable when it returns."""
    os.replace(stage_private_file(path, content), path)
    sync_directory(path.parent)


def names_in(directory: Path, prefix: str, suffixes: tuple[str, ...]) -> list[str]:
    """The names of ``directory``'s entries starting with ``prefix`` and ending with one of ``suffixes``, sorted;
    none when the directory does not exist (another OSError is the caller's to word)."""
    try:
        return sorted(
            name for name in os.listdir(directory) if name.startswith(prefix) and name.endswith(suffixes)
        )
    except FileNotFoundError:
        return []
