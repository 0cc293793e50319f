"""Subscriptions from the manifest directory: every ``*.yaml``/``*.yml`` file there, each document of kind
``Subscription`` (Kyma's group) in it. Users write them next to the Applications the agent writes.

``current()`` lists the directory only when its mtime changed, and re-reads only files whose identity (inode,
mtime, size) changed. Both also when the mtime is recent: the kernel stamps times from a coarse clock, so a
change in the same tick as the last look would otherwise go unseen. A file that cannot be read or parsed keeps
what it said before (it may be half written) and is reported once per version; a file that went takes its
Subscriptions with it.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

import structlog
import yaml

from events.subscriptions.model import (
    Subscription,
    UnusableSubscription,
    describes_subscription,
    subscription_from_manifest,
)

log = structlog.get_logger("events.subscriptions.directory")

_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_SUFFIXES = (".yaml", ".yml")
# A time stamp this close to now may yet be followed by a change in the same clock tick: look again.
_RECENT_SECONDS = 2.0

_Identity = tuple[int, int, int]


@dataclass(frozen=True)
class _File:
    identity: _Identity
    subscriptions: tuple[Subscription, ...]


class DirectorySubscriptions:
    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)
        self._listed_at: int | None = None  # the directory's mtime (ns) when it was last listed
        self._names: list[str] = []
        self._files: dict[str, _File] = {}
        self._current: Mapping[str, Subscription] = MappingProxyType({})

    async def start(self) -> None:
        """Nothing to start: ``current()`` reads what changed."""

    async def stop(self) -> None:
        """Nothing to stop."""

    @property
    def ready(self) -> bool:
        return True

    def current(self) -> Mapping[str, Subscription]:
        names = self._list()
        changed = set(self._files) - set(names)
        for gone in changed:
            del self._files[gone]
        for name in names:
            if self._refresh(name):
                changed.add(name)
        if changed:
            self._current = self._collect()
        return self._current

    def _list(self) -> list[str]:
        try:
            mtime = os.stat(self.directory).st_mtime_ns
        except FileNotFoundError:
            self._listed_at, self._names = None, []
            return self._names
        if mtime != self._listed_at or _recent(mtime):
            self._names = sorted(name for name in os.listdir(self.directory) if name.endswith(_SUFFIXES))
            self._listed_at = mtime
        return self._names

    def _refresh(self, name: str) -> bool:
        """Re-reads the file if it changed; True when what it says changed."""
        path = self.directory / name
        try:
            status = os.stat(path)
        except FileNotFoundError:
            return self._files.pop(name, None) is not None
        identity = (status.st_ino, status.st_mtime_ns, status.st_size)
        known = self._files.get(name)
        if known is not None and known.identity == identity and not _recent(status.st_mtime_ns):
            return False
        try:
            subscriptions = _read(path)
        except (OSError, yaml.YAMLError, UnusableSubscription) as exc:
            if known is None or known.identity != identity:
                log.warning("subscription_file_unusable", path=str(path), reason=_reason(exc))
            kept = known.subscriptions if known is not None else ()
            self._files[name] = _File(identity, kept)
            return False
        self._files[name] = _File(identity, subscriptions)
        return known is None or known.subscriptions != subscriptions

    def _collect(self) -> Mapping[str, Subscription]:
        found: dict[str, Subscription] = {}
        for name in sorted(self._files):
            for subscription in self._files[name].subscriptions:
                if subscription.identity in found:
                    log.warning("subscription_duplicate", subscription=subscription.identity, ignored_in=name)
                    continue
                found[subscription.identity] = subscription
        return MappingProxyType(found)


def _read(path: Path) -> tuple[Subscription, ...]:
    documents = list(yaml.load_all(path.read_bytes(), Loader=_Loader))
    return tuple(
        subscription_from_manifest(document) for document in documents if describes_subscription(document)
    )


def _recent(mtime_ns: int) -> bool:
    return time.time() - mtime_ns / 1e9 < _RECENT_SECONDS


def _reason(error: Exception) -> str:
    if isinstance(error, yaml.YAMLError):
        return "not valid YAML"  # not the parser's message: it quotes the file
    if isinstance(error, OSError):
        return error.strerror or repr(error)
    return str(error)
