"""Atomic file writes for keys and certificates (readers see the old file or the whole new one, never half), and
private directories."""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path

import structlog

PRIVATE_FILE_MODE = 0o600
PUBLIC_FILE_MODE = 0o644
PRIVATE_DIRECTORY_MODE = 0o700
log = structlog.get_logger("compass.files")


def private_directory(path: Path) -> Path:
    """``path``, created if missing, and 0700 even when it existed before with a wider mode: ``mkdir(mode=)``
    leaves an existing directory as it is, and the data directory holds keys and every tenant's credentials."""
    path.mkdir(mode=PRIVATE_DIRECTORY_MODE, parents=True, exist_ok=True)
    mode = path.stat().st_mode & 0o777
    if mode != PRIVATE_DIRECTORY_MODE:
        try:
            path.chmod(PRIVATE_DIRECTORY_MODE)
        except PermissionError:  # another user's directory (a mounted volume): its owner decides
            log.warning("directory_not_private", path=str(path), mode=oct(mode))
    return path


def write_file_atomically(path: Path, data: bytes, *, mode: int) -> None:
    """Write ``data`` to a fresh temporary file in the same directory (created 0600-or-stricter, O_EXCL) and
    rename it over ``path``, so a private key is never readable by others, not even for a moment."""
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE_MODE)
    try:
        with os.fdopen(descriptor, "wb") as file:
            file.write(data)
            file.flush()
            os.fchmod(file.fileno(), mode)
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()
        raise
    _fsync_directory(path.parent)


def write_private_file(path: Path, data: bytes) -> None:
    """A key file: mode 0600."""
    write_file_atomically(path, data, mode=PRIVATE_FILE_MODE)


def write_public_file(path: Path, data: bytes) -> None:
    """A certificate file: mode 0644."""
    write_file_atomically(path, data, mode=PUBLIC_FILE_MODE)


def _fsync_directory(directory: Path) -> None:
    """Make the rename itself durable, so a crash cannot leave a certificate without its key."""
    try:
        descriptor = os.open(directory, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory descriptors
        return
    try:
        os.fsync(descriptor)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(descriptor)
