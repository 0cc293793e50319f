"""When each runtime last polled: noted in memory on every poll, written in batches, never one write per poll."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from director.runtime.repository import RuntimeRepository
from kernel.db import Database


class LastSeenRecorder:
    def __init__(self, database: Database, clock: Callable[[], datetime]) -> None:
        self.database = database
        self.clock = clock
        self._pending: dict[str, datetime] = {}

    def seen(self, runtime_id: str) -> None:
        self._pending[runtime_id] = self.clock()

    async def flush(self) -> int:
        """Writes what was noted since the last flush; a later time never goes back to an earlier one."""
        pending, self._pending = self._pending, {}
        if not pending:
            return 0
        try:
            async with self.database.transaction() as session:
                # Runtime rows in id order, as every writer takes them (``director.polling.revision``): two
                # processes flushing the same runtimes, or a flush and an application write, queue, never deadlock.
                await RuntimeRepository(session).record_last_seen(sorted(pending.items()))
        except BaseException:
            for runtime_id, at in pending.items():
                self._pending.setdefault(runtime_id, at)
            raise
        return len(pending)
