"""What createWatcher, ``compass watchers create`` and the event listener hand the watcher service."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

# The most watch events one read returns (Runtime.watchEvents, `compass watch-events --first`).
MAX_WATCH_EVENTS_PAGE = 200


class WatchedField(StrEnum):
    """Which part of a watched object's change is reported on update (Kyma's ``spec.field``)."""

    SPEC = "spec"
    STATUS = "status"


@dataclass(frozen=True, kw_only=True)
class WatcherInput:
    name: str
    module: str
    group: str
    version: str
    resource: str
    labels: dict[str, str] | None = None
    field: WatchedField = WatchedField.SPEC


@dataclass(frozen=True, kw_only=True)
class WatchEventInput:
    """One event as the runtime's watcher sent it (the v2 body), and the module of its path."""

    module: str
    namespace: str
    name: str
    group: str
    version: str
    kind: str
