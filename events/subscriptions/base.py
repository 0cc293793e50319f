"""What a source of Subscriptions is, whichever feeds it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from events.subscriptions.model import Subscription


class SubscriptionSource(Protocol):
    """The Subscriptions there are now, by identity (``namespace/name``).

    ``current()`` is synchronous and cheap enough to call twice a second: the directory source re-reads only
    what changed, the Kubernetes source answers from what its watch keeps in memory.
    """

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    @property
    def ready(self) -> bool:
        """True once ``current()`` answers from the whole source (Kubernetes: the first list is in); before,
        no subscription may be taken as removed."""
        ...

    def current(self) -> Mapping[str, Subscription]: ...
