"""What the broker keeps under ``BROKER_STATE_DIR``: one JSON file per service instance or binding (written through
a temporary file, fsynced and renamed: a crash leaves the old content or the new), all read at start, so they
survive a restart. A file is named by its kind and the SHA-256 of the record's id: a platform chooses ids freely.
The files are 0600 in a 0700 directory: a binding holds the credentials handed to a workload."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
from dataclasses import asdict
from pathlib import Path
from typing import Any, Generic, Protocol, TypeVar

from dataplane.files import sync_directory, write_private_file

_SUFFIX = ".json"


class Record(Protocol):
    @property
    def id(self) -> str: ...


R = TypeVar("R", bound=Record)


class RecordStore(Generic[R]):
    """The records of one kind (``prefix`` names their files), in memory and on disk."""

    def __init__(self, directory: Path, kind: type[R], prefix: str) -> None:
        self.directory, self._kind, self._prefix = directory, kind, prefix
        self._records: dict[str, R] = {}

    def load(self) -> None:
        """Every file of this kind (``OSError`` when the directory cannot be made or read, ``ValueError`` naming a
        file that is not such a record)."""
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        for name in sorted(os.listdir(self.directory)):
            if not (name.startswith(self._prefix) and name.endswith(_SUFFIX)):
                continue
            path = self.directory / name
            try:
                record = self._kind(**json.loads(path.read_bytes()))
            except (ValueError, TypeError) as error:
                raise ValueError(f"{path} is not a {self._kind.__name__.lower()}: {error}") from None
            self._records[record.id] = record

    def get(self, record_id: str) -> R | None:
        return self._records.get(record_id)

    def where(self, **attributes: Any) -> list[R]:
        """The records whose attributes have these values."""
        return [
            record
            for record in self._records.values()
            if all(getattr(record, name) == value for name, value in attributes.items())
        ]

    async def put(self, record: R) -> None:
        """On disk, then in memory."""
        content = json.dumps(asdict(record), sort_keys=True).encode()  # type: ignore[call-overload]
        await asyncio.to_thread(write_private_file, self._path(record.id), content)
        self._records[record.id] = record

    async def remove(self, record_id: str) -> None:
        """Off disk durably (a power loss must not bring a deprovisioned instance back), then from memory."""
        await asyncio.to_thread(self._unlink, self._path(record_id))
        self._records.pop(record_id, None)

    def _unlink(self, path: Path) -> None:
        path.unlink(missing_ok=True)
        sync_directory(self.directory)

    def _path(self, record_id: str) -> Path:
        return self.directory / f"{self._prefix}{hashlib.sha256(record_id.encode()).hexdigest()}{_SUFFIX}"
