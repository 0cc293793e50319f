"""TokenRequests as files in the agent's manifest directory: ``tokenrequest-<anything>.yaml`` (or ``.yml``), one
TokenRequest document each, written by the user beside the agent's files (as ``applicationmapping-*.yaml`` are
for the broker); a document without ``metadata.namespace`` is in ``default``.

The status is written back into the same file: the document as read with its ``status`` replaced, dumped as
YAML (comments and formatting of the user's file are not kept), into a 0600 temporary file (the token is a
credential) that is fsynced and renamed over the file, then the directory fsynced. The file is compared with
what was read just before the rename, and left alone when it changed meanwhile (it is read again at the next
reconcile); an edit in the instant between that comparison and the rename would be lost. An expired request's
file is removed the same way. A file that is not one valid TokenRequest is skipped and logged once per
content. The request's ApplicationMapping is looked for in the same directory's ``applicationmapping-*.yaml``
files, as the broker reads them (``dataplane.catalog.directory.DirectoryMappings``).

The directory cannot be watched without a dependency the agent does not have: ``changes`` looks at the
directory's identity (inode and mtime, which a new file, a rename or a removal moves) every
``POLL_SECONDS``. The same identity spares listing the directory (4,000 files of a 1,000-application runtime)
at each reconcile: the names are listed again only when it moved; the request files themselves are read each
time (they are few, and an edit in place does not move the directory).
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import os
import time
from collections.abc import AsyncGenerator
from pathlib import Path
from typing import Any

import structlog
import yaml

from agent.errors import SinkError
from agent.sinks.directory import dump
from agent.tokenrequests.base import DEFAULT_NAMESPACE, TOKEN_REQUEST_KIND, TokenRequest
from dataplane.catalog.base import CatalogError
from dataplane.catalog.directory import DirectoryMappings
from dataplane.files import names_in, stage_private_file, sync_directory
from dataplane.names import is_resource_name

log = structlog.get_logger("agent.tokenrequests.directory")

FILE_PREFIX = "tokenrequest-"
_SUFFIXES = (".yaml", ".yml")
POLL_SECONDS = 1.0
_SETTLED_NS = 1_000_000_000  # a directory mtime this old is past the timestamp tick of any later change


class DirectoryTokenRequests:
    def __init__(self, directory: Path, *, poll_seconds: float = POLL_SECONDS) -> None:
        self.directory = Path(directory)
        self._poll_seconds = poll_seconds
        self._unusable: dict[str, bytes] = {}  # file name -> the content last logged as unusable
        # The last listing: the directory's identity then, whether it was settled, the request files' names.
        self._listed: tuple[tuple[int, int] | None, bool, list[str]] | None = None
        self._mappings = DirectoryMappings(self.directory)

    async def current(self) -> list[TokenRequest]:
        return await asyncio.to_thread(self._current)

    async def write_status(self, request: TokenRequest, status: dict[str, Any]) -> bool:
        manifest = copy.deepcopy(request.manifest)
        manifest["status"] = status
        return await asyncio.to_thread(self._replace, request, dump(manifest).encode("utf-8"))

    async def mapped(self, request: TokenRequest) -> bool:
        return await asyncio.to_thread(self._mapped, request)

    async def delete(self, request: TokenRequest) -> None:
        await asyncio.to_thread(self._replace, request, None)

    async def changes(self) -> AsyncGenerator[None]:
        last = self._directory_identity()
        yield None  # what was written before this started
        while True:
            await asyncio.sleep(self._poll_seconds)
            current = self._directory_identity()
            if current != last:
                last = current
                yield None

    async def aclose(self) -> None:
        """Nothing to release."""

    # --- blocking work, run in a thread ---------------------------------------------------------------------

    def _directory_identity(self) -> tuple[int, int] | None:
        try:
            status = os.stat(self.directory)
        except OSError:
            return None
        return status.st_ino, status.st_mtime_ns

    def _names(self) -> list[str]:
        """The request files' names: listed again only when the directory's identity moved, or was less than a
        second old when last listed (an entry added within the same timestamp tick would keep it)."""
        identity = self._directory_identity()
        listed = self._listed
        if identity is not None and listed is not None and listed[0] == identity and listed[1]:
            return listed[2]
        try:
            names = names_in(self.directory, FILE_PREFIX, _SUFFIXES)
        except OSError as exc:
            raise SinkError(f"cannot list {self.directory}: {exc.strerror}") from exc
        settled = identity is not None and identity[1] < time.time_ns() - _SETTLED_NS
        self._listed = (identity, settled, names)
        return names

    def _current(self) -> list[TokenRequest]:
        names = self._names()
        found: list[TokenRequest] = []
        for name in names:
            path = self.directory / name
            try:
                content = path.read_bytes()
            except FileNotFoundError:
                continue
            except OSError as exc:
                raise SinkError(f"cannot read {path}: {exc.strerror}") from exc
            request = self._request(path, content)
            if request is not None:
                found.append(request)
        for gone in set(self._unusable) - set(names):
            del self._unusable[gone]
        return found

    def _request(self, path: Path, content: bytes) -> TokenRequest | None:
        problem: str | None
        try:
            documents = [item for item in yaml.safe_load_all(content) if item is not None]
        except yaml.YAMLError as exc:
            documents, problem = [], f"not valid YAML: {exc}"
        else:
            problem = _problem(documents)
        if problem is not None:
            if self._unusable.get(path.name) != content:
                self._unusable[path.name] = content
                log.warning("token_request_file_unusable", file=str(path), reason=problem)
            return None
        self._unusable.pop(path.name, None)
        manifest: dict[str, Any] = documents[0]
        namespace = manifest["metadata"].get("namespace", DEFAULT_NAMESPACE)
        name = manifest["metadata"]["name"]
        return TokenRequest(namespace, name, manifest, version=content, origin=(path, content))

    def _mapped(self, request: TokenRequest) -> bool:
        try:
            mappings = self._mappings.in_namespace(request.namespace)
        except CatalogError as exc:
            raise SinkError(f"cannot tell the ApplicationMappings of {request.namespace}: {exc}") from exc
        return any(mapping.name == request.name for mapping in mappings)

    def _replace(self, request: TokenRequest, content: bytes | None) -> bool:
        """The file of ``request`` replaced by ``content`` (None: removed) if it still holds what was read."""
        path, read = request.origin
        staged: Path | None = None
        try:
            staged = stage_private_file(path, content) if content is not None else None
            try:
                unchanged = path.read_bytes() == read
            except FileNotFoundError:
                unchanged = False
            if not unchanged:
                return False
            if staged is not None:
                os.replace(staged, path)
                staged = None
            else:
                path.unlink()
            sync_directory(self.directory)
        except OSError as exc:
            raise SinkError(f"cannot write {path}: {exc.strerror}") from exc
        finally:
            if staged is not None:
                with contextlib.suppress(OSError):
                    staged.unlink()
        return True


def _problem(documents: list[Any]) -> str | None:
    """Why ``documents`` (a file's) are not one usable TokenRequest, or None."""
    if len(documents) != 1 or not isinstance(documents[0], dict):
        return "must hold exactly one TokenRequest"
    metadata = documents[0].get("metadata")
    if documents[0].get("kind") != TOKEN_REQUEST_KIND or not isinstance(metadata, dict):
        return "is not a TokenRequest"
    name, namespace = metadata.get("name"), metadata.get("namespace", DEFAULT_NAMESPACE)
    if not (isinstance(name, str) and is_resource_name(name)):
        return "has no valid metadata.name (the application's name)"
    if not (isinstance(namespace, str) and is_resource_name(namespace)):
        return "has an invalid metadata.namespace"
    return None
