"""``compass-watcher serve``: the webhook (HTTPS, TLS 1.3 only, on ``WATCHER_HOST:WATCHER_PORT``), the health and
metrics listener (``WATCHER_API_PORT``), the delivery of spooled events, and the rotation of the webhook's
certificates, in one process."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import structlog

from dataplane.control_plane import ControlPlaneCredentials
from dataplane.health import HealthApp
from dataplane.serving import Listener
from watcher.admission import AdmissionApp
from watcher.delivery import Deliverer
from watcher.events import WatchEvent
from watcher.settings import WatcherSettings
from watcher.spool import Spool
from watcher.tls import WebhookTLS

log = structlog.get_logger(__name__)

# What keeps ``serve`` from starting: the spool's or the certificates' directory cannot be written or read.
START_ERRORS: tuple[type[Exception], ...] = (OSError, ValueError)
STOP_GRACE_SECONDS = 5.0
RESTART_SECONDS = 5.0


@dataclass(frozen=True)
class _Running:
    context: ssl.SSLContext
    spool: Spool
    deliverer: Deliverer
    tasks: tuple[asyncio.Task[None], ...]


class Watcher:
    """The ``dataplane.serving.Service`` of ``compass-watcher serve``: ``start`` brings the certificates up to date
    and opens the spool before the listeners serve; ``stop`` ends the delivery and the rotation."""

    def __init__(self, settings: WatcherSettings) -> None:
        self.settings = settings
        self.tls = WebhookTLS.from_settings(settings)
        self._stopping = asyncio.Event()
        self._running: _Running | None = None

    def listeners(self) -> list[Listener]:
        settings = self.settings
        return [
            Listener(
                "webhook",
                AdmissionApp(self.queue),
                settings.host,
                settings.port,
                # uvicorn builds its context when it starts serving, after start(): it takes ours, which the
                # rotation keeps current.
                tls={"ssl_context_factory": self._ssl_context},
            ),
            Listener("health and metrics listener", HealthApp(self.ready), settings.host, settings.api_port),
        ]

    async def start(self) -> None:
        settings = self.settings
        certificates = await asyncio.to_thread(self.tls.ensure)
        context = self.tls.server_context()
        spool = await asyncio.to_thread(Spool, settings.spool_dir, settings.spool_max_events)
        deliverer = Deliverer(
            spool, ControlPlaneCredentials(settings.state_dir, settings.control_plane_url), settings
        )

        def rotation() -> Awaitable[None]:
            return self.tls.keep_rotated(self.tls.current or certificates, context, self._stopping)

        tasks = (
            asyncio.create_task(self._supervised("delivery", lambda: deliverer.run(self._stopping)), name="delivery"),
            asyncio.create_task(self._supervised("certificate rotation", rotation), name="certificate rotation"),
        )
        self._running = _Running(context, spool, deliverer, tasks)
        log.info("watcher_started", tls_dir=str(settings.tls_dir), spool_dir=str(settings.spool_dir))

    async def stop(self) -> None:
        self._stopping.set()
        if self._running is None:
            return
        tasks = self._running.tasks
        # Each task ends on the event between steps; a delivery waiting on a control plane that does not answer
        # is cut short (its event stays in the spool and is sent again at the next start).
        _, pending = await asyncio.wait(tasks, timeout=STOP_GRACE_SECONDS)
        for task in pending:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _supervised(self, name: str, run: Callable[[], Awaitable[None]]) -> None:
        """Runs ``run`` until the watcher stops, starting it again ``RESTART_SECONDS`` after an unexpected
        failure: a delivery that died would leave events piling up in the spool behind a webhook that still
        answers, and a rotation that died would let the certificate expire."""
        while not self._stopping.is_set():
            try:
                await run()
            except Exception:  # logged, and the task started again
                log.exception("watcher_task_failed", task=name, restart_in=RESTART_SECONDS)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), RESTART_SECONDS)
            else:
                return

    def ready(self) -> bool:
        """Serving: the certificate in force has not expired (its rotation may have failed on a full disk)."""
        current = self.tls.current
        return current is not None and datetime.now(UTC) < current.serving.not_after

    async def queue(self, event: WatchEvent) -> None:
        """Durably in the spool, then the deliverer woken (``OSError`` when the spool cannot take it)."""
        running = self._started()
        await running.spool.append(event)
        running.deliverer.wake()

    def _ssl_context(self, _config: object, _default: Callable[[], ssl.SSLContext]) -> ssl.SSLContext:
        return self._started().context

    def _started(self) -> _Running:
        if self._running is None:
            raise RuntimeError("Watcher.start() was not awaited")
        return self._running
