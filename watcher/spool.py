"""The watcher's durable queue: events admitted but not yet delivered to the control plane, oldest first.

One file per event, named by a zero-padded sequence number (``00000000000000000042.event``), written to a
temporary file, fsynced, renamed and the directory fsynced before ``append`` returns: an acknowledged event
survives SIGKILL and power loss. Appends that arrive during a write share the next directory fsync (group commit),
so an append costs one fsync of its file and a share of one of the directory: about 3 ms on an ordinary disk, 500
appends at once 1.5 s, within the API server's webhook timeout for the changes of watched resources, which
one agent writes. In return removal is one unlink, recovery is a directory listing, and no record can be torn or
need compacting (a log of many events per file would save the per-file fsyncs, at the price of both).

Past ``max_events`` the oldest event is dropped (the control plane reconciles periodically anyway: a lost event
delays a reaction, it does not lose state). Drops are counted in the file ``dropped`` beside the events, so the
count survives restarts, and in ``compass_watcher_events_dropped_total``, which starts each process at the persisted
count (one spool per process: the counter then never goes back, even across restarts).

Removing a delivered event is not fsynced: a crash may bring it back, and it is delivered again (at least once).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections import deque
from pathlib import Path

import structlog
from prometheus_client import Counter, Gauge

from dataplane.files import stage_private_file
from watcher.events import WatchEvent

log = structlog.get_logger(__name__)

SUFFIX = ".event"
DROPPED_FILE = "dropped"
_DIGITS = 20  # 10^20 events: no wrap-around within the life of any directory

DROPPED = Counter(
    "compass_watcher_events_dropped",
    "Events dropped from a full spool (WATCHER_SPOOL_MAX_EVENTS) or unreadable in it, never delivered; counted "
    "since the spool directory was made.",
)
DEPTH = Gauge("compass_watcher_spool_events", "Events in the spool, not yet delivered.")


class Spool:
    """In-order, bounded, crash-safe; ``append`` from many requests at once, ``peek``/``remove`` from one
    deliverer. Recovery happens here, at start: leftover temporary files are removed and numbering continues
    after the highest sequence found."""

    def __init__(self, directory: Path, max_events: int) -> None:
        if max_events < 1:
            raise ValueError("max_events must be at least 1")
        self.directory, self.max_events = directory, max_events
        self._lock = asyncio.Lock()
        self._pending: list[tuple[WatchEvent, asyncio.Future[None]]] = []
        self._writer: asyncio.Task[None] | None = None
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        self._sequences = deque(self._recover())
        self._next = self._sequences[-1] + 1 if self._sequences else 1
        self._dropped = self._read_dropped()
        DROPPED.inc(self._dropped)
        if len(self._sequences) > max_events:  # the bound was lowered since the events were written
            self._trim()
            self._fsync_directory()
        DEPTH.set(len(self._sequences))
        log.info("spool_opened", directory=str(directory), events=len(self._sequences), dropped=self._dropped)

    @property
    def depth(self) -> int:
        return len(self._sequences)

    @property
    def dropped(self) -> int:
        """Events dropped since the directory was made."""
        return self._dropped

    async def append(self, event: WatchEvent) -> None:
        """Returns once the event is on disk for good (or raises ``OSError``: the caller must not acknowledge).

        Appends that arrive while a write is under way are written together by the next one, which fsyncs the
        directory once for all of them (group commit)."""
        written = asyncio.get_running_loop().create_future()
        self._pending.append((event, written))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write_pending(), name="spool-append")
        await written

    async def _write_pending(self) -> None:
        while self._pending:
            batch, self._pending = self._pending, []
            # What the appenders get unless the write ends: its OSError, or this for anything unexpected.
            error: BaseException | None = RuntimeError("the spool's write failed")
            try:
                async with self._lock:
                    await asyncio.to_thread(self._append, [event for event, _ in batch])
                error = None
            except OSError as failure:
                error = failure
            finally:
                for _, written in batch:
                    if written.done():  # its appender was cancelled
                        continue
                    if error is None:
                        written.set_result(None)
                    else:
                        written.set_exception(error)

    async def peek(self) -> tuple[int, WatchEvent] | None:
        """The oldest event and its sequence number, or None when the spool is empty."""
        async with self._lock:
            while self._sequences:
                sequence = self._sequences[0]
                try:
                    data = await asyncio.to_thread(self._path(sequence).read_bytes)
                    return sequence, WatchEvent.from_json(data)
                except (OSError, ValueError) as error:  # only a damaged disk or a hand edit can make one
                    damage = str(error)
                log.error("spool_record_unreadable", sequence=sequence, error=damage)
                await asyncio.to_thread(self._drop, 1)
            return None

    async def remove(self, sequence: int) -> None:
        """Forgets a delivered event; a no-op when it was dropped meanwhile (a full spool drops the oldest)."""
        async with self._lock:
            if self._sequences and self._sequences[0] == sequence:
                self._sequences.popleft()
                DEPTH.set(len(self._sequences))
                with contextlib.suppress(FileNotFoundError):
                    await asyncio.to_thread(self._path(sequence).unlink)

    def _append(self, events: list[WatchEvent]) -> None:
        for event in events:
            final = self._path(self._next)
            os.replace(stage_private_file(final, event.to_json()), final)
            self._sequences.append(self._next)
            self._next += 1
        if len(self._sequences) > self.max_events:
            self._trim()
        self._fsync_directory()
        DEPTH.set(len(self._sequences))

    def _trim(self) -> None:
        excess = len(self._sequences) - self.max_events
        first, last = self._sequences[0], self._sequences[excess - 1]
        self._drop(excess)
        log.warning("spool_full_dropped_oldest", dropped=excess, first=first, last=last, total=self._dropped)

    def _drop(self, count: int) -> None:
        """The ``count`` oldest events, never to be delivered: the new total is written before the files go."""
        self._dropped += count
        self._write_dropped()
        for _ in range(count):
            with contextlib.suppress(FileNotFoundError):
                self._path(self._sequences.popleft()).unlink()
        DROPPED.inc(count)
        DEPTH.set(len(self._sequences))

    def _write_dropped(self) -> None:
        path = self.directory / DROPPED_FILE
        os.replace(stage_private_file(path, f"{self._dropped}\n".encode()), path)

    def _read_dropped(self) -> int:
        try:
            text = (self.directory / DROPPED_FILE).read_text()
        except FileNotFoundError:
            return 0
        if text.strip().isdigit():
            return int(text)
        log.error("spool_dropped_count_unreadable", directory=str(self.directory), content=text[:40])
        return 0

    def _recover(self) -> list[int]:
        """The sequences on disk, in order; temporary files of writes a crash interrupted are removed (their
        events were never acknowledged)."""
        sequences = []
        for entry in self.directory.iterdir():
            if entry.name.startswith(".") and entry.name.endswith(".tmp"):
                entry.unlink()
                log.info("spool_temporary_removed", file=entry.name)
            elif entry.suffix == SUFFIX and entry.stem.isdigit():
                sequences.append(int(entry.stem))
        return sorted(sequences)

    def _path(self, sequence: int) -> Path:
        return self.directory / f"{sequence:0{_DIGITS}d}{SUFFIX}"

    def _fsync_directory(self) -> None:
        descriptor = os.open(self.directory, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
