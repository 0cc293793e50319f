"""The delivery runs in a process of its own, which ``compass-events serve`` starts and watches.

Why a separate process: delivery makes one HTTP POST per event and subscription. Inside the ingress's process it
competed with the ingress for the interpreter's one lock. Measured with bench/events.py, the ingress then
acknowledged up to a third fewer events, and the delivery fell behind. In separate processes each gets a core.

The two talk over one Unix socket pair, which the delivery process inherits:

- serve → delivery: ``c`` when events were appended. The embedded log's waiters then wake at once; without
  it they would look only every second. ``m`` asks for the delivery's metrics.
- delivery → serve: ``r`` once, when every Subscription listed at start has its cursor; serve acknowledges
  nothing before that. Then, for each ``m``, the metrics in Prometheus's text format, preceded by their length
  (8 bytes, big-endian).

The delivery process stops when the socket closes, that is when serve stopped or died (kill -9 included). When
the delivery process exits unexpectedly, serve starts it again after ``RESTART_SECONDS``. The wait doubles, up to
``RESTART_MAX_SECONDS``, while it keeps failing within ``STABLE_SECONDS`` of its start. Events are stored
meanwhile, and the new process resumes from the saved cursors.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import socket
import sys
from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import structlog
from prometheus_client import generate_latest

from events.delivery import Delivery
from events.metrics import DELIVERY_REGISTRY, DELIVERY_RESTARTS
from events.settings import EventsSettings
from events.store.base import EventLog
from events.subscriptions.base import SubscriptionSource
from events.subscriptions.sources import open_subscriptions

log = structlog.get_logger("events.delivery_process")

APPENDED, METRICS, READY = b"c", b"m", b"r"
READY_SECONDS = 60.0  # start-up: the log, and the Subscriptions' first list (FIRST_LIST_SECONDS)
FIRST_LIST_SECONDS = 10.0  # how long the delivery waits for the Subscriptions' first list (Kubernetes)
METRICS_SECONDS = 5.0
CUE_SECONDS = 0.01
STOP_SECONDS = 10.0
RESTART_SECONDS, RESTART_MAX_SECONDS, STABLE_SECONDS = 1.0, 30.0, 10.0
_LENGTH = 8


class DeliveryNotStarted(Exception):
    """The delivery process exited, or did not get ready, before serve could acknowledge anything."""


@runtime_checkable
class Refreshable(Protocol):
    """A log that another process appends to and that must be told so (SQLite); JetStream tells its readers
    itself."""

    async def refresh(self) -> None: ...


# serve's side ------------------------------------------------------------------------------------------------


class DeliveryProcess:
    def __init__(self, arguments: Sequence[str] = ()) -> None:
        """``arguments``: what the ``deliver`` command needs beyond the environment (``--config-dir``)."""
        self.arguments = list(arguments)
        self._process: asyncio.subprocess.Process | None = None
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._asking = asyncio.Lock()
        self._watcher: asyncio.Task[None] | None = None
        self._last_cue, self._cue_pending = 0.0, False

    async def start(self) -> None:
        """Returns once the delivery process is ready.

        Raises:
            DeliveryNotStarted: it exited or hung before that.
        """
        await self._spawn()
        self._watcher = asyncio.create_task(self._watch(), name="events-delivery-process")

    def appended(self) -> None:
        """Cues the delivery, at most once per ``CUE_SECONDS``: under load it then reads batches of events
        rather than each commit's few, for a fraction of the CPU, and an event waits that much longer at most."""
        if self._cue_pending:
            return
        loop = asyncio.get_running_loop()
        wait = self._last_cue + CUE_SECONDS - loop.time()
        if wait > 0:
            self._cue_pending = True
            loop.call_later(wait, self._cue)
        else:
            self._cue()

    def _cue(self) -> None:
        self._cue_pending = False
        self._last_cue = asyncio.get_running_loop().time()
        writer = self._writer
        # A cue still unsent covers this one; one lost (the process restarting) is made up by the delivery's
        # own look at the log every second.
        if writer is not None and not writer.is_closing() and writer.transport.get_write_buffer_size() == 0:
            writer.write(APPENDED)

    async def metrics(self) -> bytes:
        """The delivery's metrics; none while it is down or does not answer in time."""
        async with self._asking:
            reader, writer = self._reader, self._writer
            if reader is None or writer is None or writer.is_closing():
                return b""
            try:
                writer.write(METRICS)
                async with asyncio.timeout(METRICS_SECONDS):
                    size = int.from_bytes(await reader.readexactly(_LENGTH), "big")
                    return await reader.readexactly(size)
            except (OSError, asyncio.IncompleteReadError, TimeoutError) as exc:
                # The stream may be out of step now: closing it stops the process, and the watcher starts a new one.
                log.warning("delivery_metrics_unanswered", reason=repr(exc))
                writer.close()
                return b""

    async def stop(self) -> None:
        if self._watcher is not None:
            self._watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watcher
            self._watcher = None
        await self._end()

    async def _spawn(self) -> None:
        ours, theirs = socket.socketpair()
        with theirs:
            self._process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "events.cli",
                "deliver",
                "--channel-fd",
                str(theirs.fileno()),
                *self.arguments,
                pass_fds=(theirs.fileno(),),
            )
        self._reader, self._writer = await asyncio.open_unix_connection(sock=ours)
        try:
            async with asyncio.timeout(READY_SECONDS):
                ready = await self._reader.read(1)
        except TimeoutError:
            ready = b""
        if ready != READY:
            status = await self._end()
            raise DeliveryNotStarted(f"the delivery process did not get ready (exit status {status})")
        log.info("delivery_process_started", pid=self._process.pid)

    async def _watch(self) -> None:
        loop = asyncio.get_running_loop()
        failures = 0  # in a row, each within STABLE_SECONDS of its start
        while True:
            started = loop.time()
            if self._process is not None:
                status = await self._process.wait()
                await self._end()
                log.error("delivery_process_exited", status=status)
            failures = failures + 1 if loop.time() - started < STABLE_SECONDS else 0
            await asyncio.sleep(min(RESTART_SECONDS * 2**failures, RESTART_MAX_SECONDS))
            DELIVERY_RESTARTS.inc()
            try:
                await self._spawn()
            except DeliveryNotStarted as exc:
                log.error("delivery_process_not_restarted", reason=str(exc))  # noqa: TRY400 - no traceback to add

    async def _end(self) -> int | None:
        """Closes the socket (the process's cue to stop) and waits for it to exit; its exit status."""
        if self._writer is not None:
            self._writer.close()
            self._reader = self._writer = None
        process, self._process = self._process, None
        if process is None:
            return None
        try:
            async with asyncio.timeout(STOP_SECONDS):
                return await process.wait()
        except TimeoutError:
            process.kill()
            return await process.wait()


# the delivery process's side ---------------------------------------------------------------------------------


async def run_delivery(settings: EventsSettings, channel: int, event_log: EventLog) -> None:
    """The delivery process's life: start, say ready, answer serve until it closes the socket or SIGTERM."""
    reader, writer = await asyncio.open_unix_connection(sock=socket.socket(fileno=channel))
    subscriptions = open_subscriptions(
        settings.source,
        manifest_dir=settings.manifest_dir,
        kubeconfig=settings.kubeconfig,
        kube_context=settings.kube_context,
    )
    delivery = Delivery.from_settings(event_log, subscriptions, settings)
    running = asyncio.current_task()
    if running is not None:  # always, under uvloop.run
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, running.cancel)
    # Ctrl-C reaches the whole process group: serve stops, and closing the socket stops this process in order.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        await event_log.start()
        await subscriptions.start()
        await _first_list(subscriptions)
        await delivery.start()
        writer.write(READY)
        while chunk := await reader.read(4096):
            if APPENDED in chunk and isinstance(event_log, Refreshable):
                await event_log.refresh()
            for _ in range(chunk.count(METRICS)):
                text = generate_latest(DELIVERY_REGISTRY)
                writer.write(len(text).to_bytes(_LENGTH, "big") + text)
    except asyncio.CancelledError:
        log.info("delivery_process_stopping", reason="SIGTERM")
    finally:
        await delivery.stop()
        await subscriptions.stop()
        await event_log.stop()
        writer.close()


async def _first_list(subscriptions: SubscriptionSource) -> None:
    """Waits, up to ``FIRST_LIST_SECONDS``, for the Subscriptions' first list. Every Subscription that exists at
    start thereby gets its cursor before serve acknowledges anything. One listed later counts as added later and
    receives only later events."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + FIRST_LIST_SECONDS
    # The sources expose a flag, not an event: a start-up wait of at most a few seconds polls it.
    while not subscriptions.ready and loop.time() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.05)
    if not subscriptions.ready:
        log.warning("subscriptions_not_listed_at_start", waited_seconds=FIRST_LIST_SECONDS)
