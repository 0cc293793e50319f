"""What an event log is, whichever backend keeps it.

The ingress acknowledges an event only after ``append`` returned: by then it survives a kill -9 (SQLite: the
transaction is committed and fsynced; JetStream: the server acknowledged the publish). Delivery reads the log per
subscription from its cursor; a subscription's cursor and the dead letters live in the same backend, so one
restart finds both where they were.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from events.model import DeadLetter, Event, StoredEvent


class StoreUnavailable(Exception):
    """The backend cannot store or read now (NATS down, disk full); the ingress answers 503 and loses nothing."""


class EventLog(Protocol):
    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def append(self, events: Sequence[Event]) -> list[int]:
        """Stores the events durably, in order; returns their sequences. Concurrent calls may share one commit
        (fsync) between them: that is what makes durable appends fast."""
        ...

    async def read(self, after: int, limit: int) -> list[StoredEvent]:
        """Up to ``limit`` events with a sequence above ``after``, in order."""
        ...

    async def wait_for(self, after: int, timeout: float) -> bool:  # noqa: ASYNC109 - a bounded wait answering False
        """True as soon as an event with a sequence above ``after`` is stored (False after ``timeout`` s)."""
        ...

    async def head(self) -> int:
        """The last stored sequence (0 when none): where a new subscription starts."""
        ...

    async def cursor(self, subscription: str) -> int | None:
        """The last sequence delivered (or dead-lettered) for ``subscription``; None for a new one."""
        ...

    async def save_cursor(self, subscription: str, sequence: int) -> None: ...

    async def dead_letter(self, letter: DeadLetter) -> None:
        """Keeps an event a subscription gave up on (its cursor moves past it separately)."""
        ...

    async def dead_letters(self, subscription: str | None = None) -> list[DeadLetter]: ...
