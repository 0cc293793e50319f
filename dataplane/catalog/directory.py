"""The catalog over the agent's manifest directory (agent/sinks/directory.py writes it).

Each lookup ``stat``s the one file it needs (``application-<name>.yaml``, ``secret-<name>.yaml``) and answers
the cached parse while the file's identity (inode, mtime in ns, size) is unchanged: the agent replaces a file
by renaming a new one over it, so every change it writes is a new inode and is read by the very next lookup,
with no watcher to lag behind. A name that cannot be a resource name is absent before any path is built.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

import yaml

from dataplane.catalog.base import CatalogError
from dataplane.catalog.model import Application, ApplicationMapping, SecretData
from dataplane.catalog.parse import (
    UnusableManifest,
    application_from_manifest,
    application_mapping_from_manifest,
    secret_data_from_manifest,
)
from dataplane.files import names_in
from dataplane.names import is_resource_name

_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

T = TypeVar("T")
_Identity = tuple[int, int, int]


@dataclass(frozen=True)
class _Parsed(Generic[T]):
    """What one version of a file said: the resource, None (not this resource), or why it is unusable."""

    identity: _Identity
    found: T | None
    problem: str | None = None


class _Files(Generic[T]):
    """The files of one kind, each parsed once per version."""

    def __init__(self, directory: Path, kind: str, parse: Callable[[Mapping[str, Any]], T]) -> None:
        self.directory, self.kind, self.parse = directory, kind, parse
        # A string, not a Path: the path is built on every lookup, and pathlib's joins cost more than the stat.
        self._prefix = os.path.join(directory, f"{kind.lower()}-")
        # Only names whose file exists have an entry, and a vanished file's entry goes: the directory bounds it.
        self.parsed: dict[str, _Parsed[T]] = {}

    def get(self, name: str) -> T | None:
        if not is_resource_name(name):
            return None
        path = f"{self._prefix}{name}.yaml"
        try:
            status = os.stat(path)
        except (FileNotFoundError, NotADirectoryError):
            self.parsed.pop(name, None)
            return None
        except OSError as exc:
            raise CatalogError(f"cannot read {path}: {exc.strerror}") from None
        cached = self.parsed.get(name)
        if cached is None or cached.identity != _identity(status):
            cached = self._read(path, name)
            if cached is None:
                self.parsed.pop(name, None)
                return None
            self.parsed[name] = cached
        if cached.problem is not None:
            raise CatalogError(cached.problem)
        return cached.found

    def _read(self, path: str, name: str) -> _Parsed[T] | None:
        """The file as it is now (None: it went meanwhile); a read error is raised, not cached, since it may
        pass without the file changing (its permissions, say)."""
        try:
            # Non-blocking: a FIFO put in the file's place must not hang the lookup (and is refused below).
            descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        except (FileNotFoundError, NotADirectoryError):
            return None
        except OSError as exc:
            raise CatalogError(f"cannot read {path}: {exc.strerror}") from None
        try:
            status = os.fstat(descriptor)  # the identity of exactly what is read
            if not stat.S_ISREG(status.st_mode):
                raise CatalogError(f"{path} is not a regular file")
            with os.fdopen(descriptor, "rb", closefd=False) as handle:
                content = handle.read()
        except OSError as exc:
            raise CatalogError(f"cannot read {path}: {exc.strerror}") from None
        finally:
            os.close(descriptor)
        identity = _identity(status)
        try:
            document = yaml.load(content, Loader=_Loader)  # noqa: S506 (a safe loader)
        except yaml.YAMLError as exc:
            # Not the parser's message: its snippet of the file would carry a Secret's values.
            return _Parsed(identity, None, f"{path} is not valid YAML{_position(exc)}")
        if not self._describes(document, name):
            return _Parsed(identity, None)
        try:
            return _Parsed(identity, self.parse(document))
        except ValueError as exc:
            return _Parsed(identity, None, f"{path} is not a usable {self.kind}: {exc}")

    def _describes(self, document: object, name: str) -> bool:
        if not isinstance(document, dict) or document.get("kind") != self.kind:
            return False
        metadata = document.get("metadata")
        return isinstance(metadata, dict) and metadata.get("name") == name


class DirectoryCatalog:
    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)
        self._applications = _Files(self.directory, "Application", application_from_manifest)
        self._secrets = _Files(self.directory, "Secret", secret_data_from_manifest)

    async def start(self) -> None:
        """Nothing to start: every lookup reads what it needs."""

    async def stop(self) -> None:
        """Nothing to stop."""

    @property
    def ready(self) -> bool:
        return True

    def application(self, name: str) -> Application | None:
        return self._applications.get(name)

    def secret(self, name: str) -> SecretData | None:
        return self._secrets.get(name)


MAPPING_PREFIX = "applicationmapping-"
_MAPPING_SUFFIXES = (".yaml", ".yml")


class DirectoryMappings:
    """ApplicationMappings from the manifest directory: every file ``applicationmapping-*.yaml`` (or ``.yml``),
    each holding one or more ApplicationMapping documents, whose metadata says the namespace (users write them
    beside the agent's files, so the files of the agent's kinds are never parsed here). Each lookup lists the
    directory and re-reads only a file whose identity changed; an unreadable or unusable file is a
    ``CatalogError`` (the mappings cannot be told), as in the Application catalog."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)
        self._files: dict[str, tuple[_Identity, tuple[ApplicationMapping, ...]]] = {}

    async def start(self) -> None:
        """Nothing to start: every lookup reads what changed."""

    async def stop(self) -> None:
        """Nothing to stop."""

    @property
    def ready(self) -> bool:
        return True

    def in_namespace(self, namespace: str) -> tuple[ApplicationMapping, ...]:
        """The namespace's mappings, by name; one name twice (in two files) is a ``CatalogError``."""
        found: dict[str, ApplicationMapping] = {}
        for mapping in self._all():
            if mapping.namespace != namespace:
                continue
            if mapping.name in found:
                raise CatalogError(f"ApplicationMapping {namespace}/{mapping.name} is written twice")
            found[mapping.name] = mapping
        return tuple(found[name] for name in sorted(found))

    def _all(self) -> list[ApplicationMapping]:
        try:
            names = names_in(self.directory, MAPPING_PREFIX, _MAPPING_SUFFIXES)
        except OSError as exc:
            raise CatalogError(f"cannot list {self.directory}: {exc.strerror}") from None
        for gone in set(self._files) - set(names):
            del self._files[gone]
        found: list[ApplicationMapping] = []
        for name in names:
            found.extend(self._file(name))
        return found

    def _file(self, name: str) -> tuple[ApplicationMapping, ...]:
        path = self.directory / name
        try:
            # Non-blocking, and only a regular file: a FIFO in the file's place must not hang the lookup.
            descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        except FileNotFoundError:
            self._files.pop(name, None)
            return ()
        except OSError as exc:
            raise CatalogError(f"cannot read {path}: {exc.strerror}") from None
        try:
            status = os.fstat(descriptor)
            if not stat.S_ISREG(status.st_mode):
                raise CatalogError(f"{path} is not a regular file")
            known = self._files.get(name)
            if known is not None and known[0] == _identity(status):
                return known[1]
            with os.fdopen(descriptor, "rb", closefd=False) as handle:
                content = handle.read()
        except OSError as exc:
            raise CatalogError(f"cannot read {path}: {exc.strerror}") from None
        finally:
            os.close(descriptor)
        identity = _identity(status)
        try:
            documents = list(yaml.load_all(content, Loader=_Loader))
        except yaml.YAMLError as exc:
            raise CatalogError(f"{path} is not valid YAML{_position(exc)}") from None
        try:
            mappings = tuple(
                application_mapping_from_manifest(document)
                for document in documents
                if isinstance(document, dict) and document.get("kind") == "ApplicationMapping"
            )
        except UnusableManifest as exc:
            raise CatalogError(f"{path} is not a usable ApplicationMapping: {exc}") from None
        self._files[name] = (identity, mappings)
        return mappings


def _identity(status: os.stat_result) -> _Identity:
    return (status.st_ino, status.st_mtime_ns, status.st_size)


def _position(error: yaml.YAMLError) -> str:
    mark = getattr(error, "problem_mark", None)
    return f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
