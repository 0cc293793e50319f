"""The default sink: a directory of YAML manifests, one per resource, as ``kubectl apply -f DIR`` reads them.

Files are named ``<kind lower case>-<name>.yaml`` (a Secret ``secret-<name>.yaml``, the connection status
``compassconnection-compass-connection.yaml``). Every write goes to a temporary file in the same directory, is
fsynced and then renamed over the old one, so a reader (or a crash) sees the old file or the new one, never
half of one; temporary files start with a dot and end in ``.tmp``, which ``kubectl`` ignores. Secrets are
written with mode 0600. A file of an Application or Secret that lacks the ownership label was not written by
the agent and is never overwritten or deleted.

A manifest is written as JSON on one line, which is YAML (``kubectl`` reads either; ``jq .`` shows it indented),
whenever a YAML reader reads it back exactly as it was (``encode``: JSON's types with string keys, no float, since
YAML 1.1 reads ``1e-05`` as a string; characters YAML does not take raw escaped); any other is written as YAML.
Writing JSON and reading it back costs a tenth of YAML's (a 3 KB Application: 0.14 ms instead of 1.1 ms), and
compact JSON a quarter of indented JSON's (the standard library's C encoder serves no ``indent``: 4,000
manifests took 0.08 s of CPU instead of 0.35 s). The sink parses the JSON it finds with the JSON parser when
YAML would read it alike (no float, NaN or raw character YAML treats otherwise).

``list_owned`` keeps what it parsed per file name, with the file's identity (device, inode, mtime and ctime in
ns, size): a file whose identity is unchanged is neither read nor parsed again, so an unchanged sync of N
resources costs one directory listing and N ``stat`` calls. Any change made behind the agent's back moves the
identity: an edit changes the ctime even when it keeps the mtime and the size (``touch -r``, ``cp -p``,
``rsync -t``), a replace by rename the inode, a removal drops the name. A change within the same timestamp tick
as the version indexed would keep even the ctime (git's "racily clean" files), so an entry whose mtime or ctime
was less than a second old when it was indexed is not trusted: the file is read again at the next listing. The
sink's own writes index what they wrote (parsed back from the bytes, as a restart would read them) by the
identity the file has after the rename, provided it is still the file written. ``files_read`` counts the files
read and parsed, for tests and benchmarks.

A single ``apply`` or ``delete`` fsyncs the directory before it returns, so that the rename (or the unlink) is
durable. In a ``batch()`` each file is still fsynced before its rename (a reader and a crash still see a whole
file or none), but the directory is fsynced once, when the batch ends: the batch's writes are acknowledged
together, by the end of the block. ``directory_syncs`` counts those fsyncs. A sync runs a batch's writes
``WRITE_THREADS`` at once, in the sink's own thread pool of as many threads: the files' fsyncs then wait side
by side, and ext4 commits the files of one journal transaction together, so that a busy disk's commit latency
is paid once per group, not once per file (here, with other work on the disk, one fsync alone took 10 ms: 4,000
one after the other 40 s). Measured on this machine's disk at a load average of 13, 4,000 files of 2.5 KB
written with an fsync each: 2.4 s 8 at once, 1.8 s 32 at once; one ``syncfs`` for all of them instead gained
nothing measurable and would flush every other writer's data on the file system too. Earlier, 1,000
Applications in one batch: 1.64 s one at a time, 1.08 s with 8 (then asyncio's default pool of 6 threads),
2.78 s one by one with a directory fsync each.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import os
import re
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from agent.errors import ResourceConflict, SinkError
from agent.sinks.base import MANAGED_KINDS, SECRET_KIND, Batch, Manifest, describe, is_owned
from dataplane.names import is_resource_name

_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_BaseDumper: Any = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


class _Dumper(_BaseDumper):
    def ignore_aliases(self, data: Any) -> bool:  # noqa: ARG002 - PyYAML's signature
        return True  # no &anchors/*aliases: every manifest reads on its own


def dump(manifest: Manifest) -> str:
    text = yaml.dump(manifest, Dumper=_Dumper, sort_keys=False, default_flow_style=False, allow_unicode=True)
    return str(text)


# What YAML 1.1 does not allow raw in a stream (PyYAML's Reader.NON_PRINTABLE), and what the JSON written escapes
# beyond JSON's own escapes: those characters (JSON leaves DEL, C1 controls, U+FFFE and U+FFFF raw) and the line
# breaks YAML has beside \n and \r (NEL, LS, PS), which a quoted scalar would fold. A lone surrogate is left to
# YAML's dumper.
_NOT_PRINTABLE = re.compile("[^\x09\x0a\x0d\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_ESCAPED = re.compile("[\x7f-\x9f\u2028\u2029\ufffe\uffff]")


class _NotAsYaml(ValueError):
    """A JSON text YAML 1.1 may read otherwise: it holds a float (YAML reads ``1e5`` as a string), NaN, or a
    character YAML refuses raw or reads as a line break."""


def _refuse(token: str) -> Any:
    raise _NotAsYaml(token)


def _json_as_yaml(text: str) -> Any:
    """What a YAML reader parses from the JSON ``text``, at a twentieth of the YAML parser's cost; _NotAsYaml or
    another ValueError when that is not sure (a float, a constant, a character YAML refuses raw)."""
    if _NOT_PRINTABLE.search(text) or _ESCAPED.search(text):
        raise _NotAsYaml("a character YAML does not allow raw, or reads as a line break")
    return json.loads(text, parse_float=_refuse, parse_constant=_refuse)


def encode(manifest: Manifest) -> tuple[bytes, Manifest | None]:
    """The file's bytes for ``manifest``, and what a reader parses from them (a copy).

    JSON on one line, which is YAML (``kubectl`` and every YAML reader read it), when the manifest reads back
    from it exactly: JSON's types with string keys, no tuple, no float. Serializing and reading back JSON costs
    a tenth of YAML's; any other manifest is written as YAML (block style) and parsed back.
    """
    try:
        text = _ESCAPED.sub(
            lambda match: f"\\u{ord(match.group()):04x}",
            json.dumps(manifest, separators=(",", ":"), ensure_ascii=False, allow_nan=False),
        )
        copied = _json_as_yaml(text)
    except (TypeError, ValueError):
        copied = None
    else:
        if isinstance(copied, dict) and copied == manifest:
            return f"{text}\n".encode(), copied
    written = dump(manifest).encode("utf-8")
    return written, _parse(written, "the YAML written")


_Identity = tuple[int, int, int, int, int]  # device, inode, mtime ns, ctime ns, size
# An entry indexed less than this after its file's last mtime or ctime may miss a change in the same tick.
_RACY_NS = 1_000_000_000
WRITE_THREADS = 32  # a batch's file writes under way at once (see the module's docstring)


@dataclass(frozen=True)
class _Indexed:
    """What one version of a file said: the owned manifest it holds, or None (not ours, or not valid YAML);
    ``settled`` when the file's timestamps were old enough, when it was indexed, for its identity to be
    trusted."""

    identity: _Identity
    owned: Manifest | None
    settled: bool


@dataclass
class _Batch:
    """An open batch: ``changed`` once one of its writes renamed or removed a file."""

    changed: bool = False


class DirectorySink:
    def __init__(
        self, directory: Path, *, clock: Callable[[], int] = time.time_ns, write_threads: int = WRITE_THREADS
    ) -> None:
        """``clock``: the wall clock in ns, as file timestamps are."""
        self.directory = Path(directory)
        self.files_read = 0
        self.directory_syncs = 0
        self.concurrency = write_threads
        self._writers: ThreadPoolExecutor | None = None  # made at the first write, shut down by aclose
        self._clock = clock
        # The batch the current task writes in: the tasks a batch's block starts inherit it, others do not.
        self._batch: ContextVar[_Batch | None] = ContextVar(f"directory-batch-{id(self)}", default=None)
        # File name -> what list_owned found in it; only names seen in the last listing (or written since).
        self._index: dict[str, _Indexed] = {}

    def path_for(self, kind: str, name: str) -> Path:
        if not is_resource_name(name) or not kind.isalnum():
            raise SinkError(f"{kind}/{name} is not a valid Kubernetes kind and name")
        return self.directory / f"{kind.lower()}-{name}.yaml"

    async def aclose(self) -> None:
        """Ends the writing threads (made again by a later write)."""
        writers, self._writers = self._writers, None
        if writers is not None:
            writers.shutdown(wait=False)

    def _in_writer(self, call: Callable[[], bool]) -> asyncio.Future[bool]:
        """``call`` in one of the sink's ``concurrency`` writing threads (so many fsyncs wait at once)."""
        if self._writers is None:
            self._writers = ThreadPoolExecutor(self.concurrency, thread_name_prefix="directory-sink")
        return asyncio.get_running_loop().run_in_executor(self._writers, call)

    async def list_owned(self, kind: str) -> dict[str, Manifest]:
        return await asyncio.to_thread(self._list_owned, kind)

    async def apply(self, manifest: Manifest) -> None:
        batch = self._batch.get()
        changed = await self._in_writer(
            functools.partial(self._apply, manifest, sync_directory=batch is None)
        )
        if batch is not None and changed:
            batch.changed = True

    async def delete(self, kind: str, name: str) -> None:
        batch = self._batch.get()
        changed = await self._in_writer(
            functools.partial(self._delete, kind, name, sync_directory=batch is None)
        )
        if batch is not None and changed:
            batch.changed = True

    async def get(self, kind: str, name: str) -> Manifest | None:
        return await asyncio.to_thread(self._get, kind, name)

    @contextlib.asynccontextmanager
    async def batch(self) -> AsyncIterator[Batch]:
        batch = _Batch()
        token = self._batch.set(batch)
        try:
            yield self
        finally:
            self._batch.reset(token)
            if batch.changed:
                await asyncio.to_thread(self._sync_directory)

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
        if indexed is not None and indexed.settled and indexed.identity == identity:
            return indexed
        try:
            with open(entry.path, "rb") as handle:
                status = os.fstat(handle.fileno())  # the identity of exactly what is read
                content = handle.read()
        except OSError:
            self._index.pop(entry.name, None)
            return None
        self.files_read += 1
        try:
            manifest = _parse(content, entry.path)
        except SinkError:
            manifest = None
        indexed = self._entry(status, self._owned_in(entry.name, kind, manifest))
        self._index[entry.name] = indexed
        return indexed

    def _entry(self, status: os.stat_result, owned: Manifest | None) -> _Indexed:
        newest = max(status.st_mtime_ns, status.st_ctime_ns)
        return _Indexed(_identity(status), owned, settled=newest < self._clock() - _RACY_NS)

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

    def _apply(self, manifest: Manifest, *, sync_directory: bool = True) -> bool:
        """Whether a file was renamed into place."""
        kind = str(manifest.get("kind"))
        path = self.path_for(kind, str((manifest.get("metadata") or {}).get("name")))
        text, written_manifest = encode(manifest)
        try:
            current = path.read_bytes()
        except FileNotFoundError:
            current = None
        except OSError as exc:
            raise SinkError(f"cannot read {path}: {exc}") from exc
        if current is not None:
            if current == text:
                return False
            if kind in MANAGED_KINDS and not _owned_bytes(current):
                raise ResourceConflict(f"{describe(manifest)} exists in {path}, not managed by the agent")
        written = self._write(path, text, secret=kind == SECRET_KIND, sync_directory=sync_directory)
        if written is None:
            self._index.pop(path.name, None)  # replaced by someone else at once: read at the next listing
            return True
        # What was written, as a restart reads it (not the caller's manifest, which may differ or change).
        self._index[path.name] = self._entry(written, self._owned_in(path.name, kind, written_manifest))
        return True

    def _delete(self, kind: str, name: str, *, sync_directory: bool = True) -> bool:
        """Whether a file was removed."""
        path = self.path_for(kind, name)
        try:
            current = path.read_bytes()
        except FileNotFoundError:
            return False
        except OSError as exc:
            raise SinkError(f"cannot read {path}: {exc}") from exc
        if kind in MANAGED_KINDS and not _owned_bytes(current):
            raise ResourceConflict(f"{kind}/{name} in {path} is not managed by the agent")
        self._index.pop(path.name, None)
        try:
            path.unlink()
        except FileNotFoundError:
            return False
        except OSError as exc:
            raise SinkError(f"cannot delete {path}: {exc}") from exc
        if sync_directory:
            self._sync_directory()
        return True

    def _sync_directory(self) -> None:
        """Makes the directory's renames and removals so far durable."""
        try:
            descriptor = os.open(self.directory, os.O_RDONLY)
            try:
                os.fsync(descriptor)
            finally:
                os.close(descriptor)
        except OSError as exc:
            raise SinkError(f"cannot sync {self.directory}: {exc}") from exc
        self.directory_syncs += 1

    def _temporary(self, path: Path) -> tuple[int, str]:
        """A new temporary file beside ``path`` (open for writing, mode 0600), the directory made if missing."""
        prefix = f".{path.name}."
        try:
            return tempfile.mkstemp(prefix=prefix, suffix=".tmp", dir=self.directory)
        except FileNotFoundError:
            self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            return tempfile.mkstemp(prefix=prefix, suffix=".tmp", dir=self.directory)

    def _write(self, path: Path, text: bytes, *, secret: bool, sync_directory: bool) -> os.stat_result | None:
        """Returns the status of the file written, taken after the rename (which moves its ctime); None when
        ``path`` is another file by then (someone else's rename)."""
        try:
            descriptor, temporary = self._temporary(path)
        except OSError as exc:
            raise SinkError(f"cannot write in {self.directory}: {exc}") from exc
        try:
            try:
                os.fchmod(descriptor, 0o600 if secret else 0o644)
                left = memoryview(text)
                while left:
                    left = left[os.write(descriptor, left) :]
                os.fsync(descriptor)
                descriptor_status = os.fstat(descriptor)
            finally:
                os.close(descriptor)
            os.replace(temporary, path)
        except OSError as exc:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            raise SinkError(f"cannot write {path}: {exc}") from exc
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            raise
        if sync_directory:
            self._sync_directory()
        try:
            written = os.stat(path)
        except OSError:
            return None  # removed at once by someone else
        same = (written.st_dev, written.st_ino) == (descriptor_status.st_dev, descriptor_status.st_ino)
        return written if same else None


def _identity(status: os.stat_result) -> _Identity:
    return (status.st_dev, status.st_ino, status.st_mtime_ns, status.st_ctime_ns, status.st_size)


def _load(path: Path) -> Manifest | None:
    return _parse(path.read_bytes(), str(path))


def _parse(content: bytes, where: str) -> Manifest | None:
    if content[:1] == b"{":  # the JSON the sink writes: read as YAML reads it, faster, if that is sure
        try:
            document = _json_as_yaml(content.decode("utf-8"))
        except ValueError:
            pass
        else:
            return document if isinstance(document, dict) else None
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
