"""The default sink: a directory of YAML manifests, one per resource, as ``kubectl apply -f DIR`` reads them.

Files are named ``<kind lower case>-<name>.yaml`` (a Secret ``secret-<name>.yaml``, the connection status
``compassconnection-compass-connection.yaml``). Every write goes to a temporary file in the same directory, is
fsynced and then renamed over the old one, so a reader (or a crash) sees the old file or the new one, never
half of one; temporary files start with a dot and end in ``.tmp``, which ``kubectl`` ignores. Secrets are
written with mode 0600. A file of an Application or Secret that lacks the ownership label was not written by
the agent and is never overwritten or deleted.

``list_owned`` keeps what it parsed per file name, with the file's identity (inode, mtime in ns, size): a file
whose identity is unchanged is neither read nor parsed again, so an unchanged sync of N resources costs one
directory listing and N ``stat`` calls. Any change made behind the agent's back moves the identity (an edit
changes the mtime, a replace by rename the inode, a removal drops the name); the sink's own writes index the
file they wrote by the identity of the descriptor they wrote it through. ``files_read`` counts the files read
and parsed, for tests and benchmarks.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from agent.errors import ResourceConflict, SinkError
from agent.sinks.base import MANAGED_KINDS, SECRET_KIND, Manifest, describe, is_owned
from dataplane.names import is_resource_name

_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_BaseDumper: Any = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


class _Dumper(_BaseDumper):
    def ignore_aliases(self, data: Any) -> bool:  # noqa: ARG002 - PyYAML's signature
        return True  # no &anchors/*aliases: every manifest reads on its own


def dump(manifest: Manifest) -> str:
    text = yaml.dump(manifest, Dumper=_Dumper, sort_keys=False, default_flow_style=False, allow_unicode=True)
    return str(text)


_Identity = tuple[int, int, int]


@dataclass(frozen=True)
class _Indexed:
    """What one version of a file said: the owned manifest it holds, or None (not ours, or not valid YAML)."""

    identity: _Identity
    owned: Manifest | None


class DirectorySink:
    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)
        self.files_read = 0
        # File name -> what list_owned found in it; only names seen in the last listing (or written since).
        self._index: dict[str, _Indexed] = {}

    def path_for(self, kind: str, name: str) -> Path:
        if not is_resource_name(name) or not kind.isalnum():
            raise SinkError(f"{kind}/{name} is not a valid Kubernetes kind and name")
        return self.directory / f"{kind.lower()}-{name}.yaml"

    async def aclose(self) -> None:
        """Nothing to release; here so that both sinks close alike."""

    async def list_owned(self, kind: str) -> dict[str, Manifest]:
        return await asyncio.to_thread(self._list_owned, kind)

    async def apply(self, manifest: Manifest) -> None:
        await asyncio.to_thread(self._apply, manifest)

    async def delete(self, kind: str, name: str) -> None:
        await asyncio.to_thread(self._delete, kind, name)

    async def get(self, kind: str, name: str) -> Manifest | None:
        return await asyncio.to_thread(self._get, kind, name)

    # --- blocking work, run in a thread ---------------------------------------------------------------------

    def _list_owned(self, kind: str) -> dict[str, Manifest]:
        prefix = f"{kind.lower()}-"
        try:
            with os.scandir(self.directory) as entries:
                found = [
                    item for item in entries if item.name.startswith(prefix) and item.name.endswith(".yaml")
                ]
        except (FileNotFoundError, NotADirectoryError):
            found = []
        except OSError as exc:
            raise SinkError(f"cannot list {self.directory}: {exc}") from exc
        found.sort(key=lambda entry: entry.name)
        present = {entry.name for entry in found}
        for gone in [name for name in self._index if name.startswith(prefix) and name not in present]:
            del self._index[gone]
        owned: dict[str, Manifest] = {}
        for entry in found:
            indexed = self._indexed(entry, kind)
            if indexed is not None and indexed.owned is not None:
                owned[indexed.owned["metadata"]["name"]] = indexed.owned
        return owned

    def _indexed(self, entry: os.DirEntry[str], kind: str) -> _Indexed | None:
        """What the file holds now: from the index while its identity is unchanged, else read and parsed (and
        indexed). None when it cannot be read now (not provably ours, so not ours; not indexed, since that may
        pass without the file changing)."""
        try:
            identity = _identity(entry.stat())
        except OSError:
            return None
        indexed = self._index.get(entry.name)
        if indexed is not None and indexed.identity == identity:
            return indexed
        try:
            with open(entry.path, "rb") as handle:
                identity = _identity(os.fstat(handle.fileno()))  # the identity of exactly what is read
                content = handle.read()
        except OSError:
            self._index.pop(entry.name, None)
            return None
        self.files_read += 1
        try:
            manifest = _parse(content, entry.path)
        except SinkError:
            manifest = None
        indexed = _Indexed(identity, self._owned_in(entry.name, kind, manifest))
        self._index[entry.name] = indexed
        return indexed

    def _owned_in(self, file_name: str, kind: str, manifest: Manifest | None) -> Manifest | None:
        """``manifest`` if it is an owned resource of ``kind`` whose name is the one ``file_name`` is for."""
        if manifest is None or manifest.get("kind") != kind or not is_owned(manifest):
            return None
        name = (manifest.get("metadata") or {}).get("name")
        if isinstance(name, str) and is_resource_name(name) and self.path_for(kind, name).name == file_name:
            return manifest
        return None

    def _get(self, kind: str, name: str) -> Manifest | None:
        path = self.path_for(kind, name)
        try:
            return _load(path)
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise SinkError(f"cannot read {path}: {exc}") from exc

    def _apply(self, manifest: Manifest) -> None:
        kind = str(manifest.get("kind"))
        path = self.path_for(kind, str((manifest.get("metadata") or {}).get("name")))
        text = dump(manifest).encode("utf-8")
        try:
            current = path.read_bytes()
        except FileNotFoundError:
            current = None
        except OSError as exc:
            raise SinkError(f"cannot read {path}: {exc}") from exc
        if current is not None:
            if current == text:
                return
            if kind in MANAGED_KINDS and not _owned_bytes(current):
                raise ResourceConflict(f"{describe(manifest)} exists in {path}, not managed by the agent")
        identity = self._write(path, text, secret=kind == SECRET_KIND)
        # A copy: the caller's manifest may change after this; what was written does not.
        self._index[path.name] = _Indexed(identity, self._owned_in(path.name, kind, copy.deepcopy(manifest)))

    def _delete(self, kind: str, name: str) -> None:
        path = self.path_for(kind, name)
        try:
            current = path.read_bytes()
        except FileNotFoundError:
            return
        except OSError as exc:
            raise SinkError(f"cannot read {path}: {exc}") from exc
        if kind in MANAGED_KINDS and not _owned_bytes(current):
            raise ResourceConflict(f"{kind}/{name} in {path} is not managed by the agent")
        self._index.pop(path.name, None)
        try:
            path.unlink()
            _fsync_directory(self.directory)
        except FileNotFoundError:
            return
        except OSError as exc:
            raise SinkError(f"cannot delete {path}: {exc}") from exc

    def _write(self, path: Path, text: bytes, *, secret: bool) -> _Identity:
        """Returns the identity of the file written (that of its descriptor: no one else's change in it)."""
        try:
            self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            prefix = f".{path.name}."
            descriptor, temporary = tempfile.mkstemp(prefix=prefix, suffix=".tmp", dir=self.directory)
        except OSError as exc:
            raise SinkError(f"cannot write in {self.directory}: {exc}") from exc
        try:
            with os.fdopen(descriptor, "wb") as handle:
                os.fchmod(handle.fileno(), 0o600 if secret else 0o644)
                handle.write(text)
                handle.flush()
                os.fsync(handle.fileno())
                identity = _identity(os.fstat(handle.fileno()))
            os.replace(temporary, path)
            _fsync_directory(self.directory)
        except OSError as exc:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            raise SinkError(f"cannot write {path}: {exc}") from exc
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            raise
        return identity


def _identity(status: os.stat_result) -> _Identity:
    return (status.st_ino, status.st_mtime_ns, status.st_size)


def _load(path: Path) -> Manifest | None:
    return _parse(path.read_bytes(), str(path))


def _parse(content: bytes, where: str) -> Manifest | None:
    try:
        document = yaml.load(content, Loader=_Loader)  # noqa: S506 (a safe loader)
    except yaml.YAMLError as exc:
        raise SinkError(f"{where} is not valid YAML: {exc}") from exc
    return document if isinstance(document, dict) else None


def _owned_bytes(content: bytes) -> bool:
    try:
        manifest = _parse(content, "the current file")
    except SinkError:
        return False
    return manifest is not None and is_owned(manifest)


def _fsync_directory(directory: Path) -> None:
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
