"""The agent's loop: ensure connected (renew when due) → sync once → runtime labels → status → TokenRequests
(``agent.tokenrequests``: filled after each successful sync; a new one cuts the wait short) → sleep.

One iteration is ``Agent.run_once``; ``Agent.run`` repeats it every ``AGENT_SYNC_PERIOD`` seconds ±20 % until
stopped, waiting a capped exponential backoff instead while no connection can be made. With ``AGENT_PUSH`` it also
keeps the Director's change stream open (``agent.push``) while it has a certificate: a change cuts the wait short
(a change told during an iteration: one more iteration right after it; iterations never overlap). An iteration does
not raise for what the Director, the Connector or the network do: each outcome is a CompassConnection state:

- ``Connected``: a certificate was just acquired or renewed (the sync of the same iteration sets the next);
- ``ConnectionFailed``: connecting with the token failed (refused, or the Connector unreachable);
- ``ConnectionMaintenanceFailed``: renewal failed or the certificate was refused (it stays in use), or it
  was revoked (it is deleted and not used again);
- ``SynchronizationFailed``: fetching failed; nothing was changed;
- ``ResourceApplicationFailed``: the sink refused a write midway;
- ``MetadataUpdateFailed``: synced, but the runtime labels could not be set;
- ``Synchronized``: synced, labels current.

A renewal failure outranks the sync's state in the same iteration (it must stay visible); the sync timestamps
are still updated.

Like Compass's agent it also sets the runtime's status condition to CONNECTED (``updateRuntime`` on itself), once
per process and only when it is not CONNECTED already.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Self

import httpx
import structlog

from agent.connection import Backoff, Clock, Connection, ConnectionManager, Maintenance, system_clock
from agent.diff import KIND_ORDER
from agent.director_client import DirectorClient
from agent.errors import AgentError, ApplyFailed, DirectorError
from agent.push import ChangeSubscription
from agent.resources import ca_secret
from agent.settings import AgentSettings
from agent.sinks import make_sink
from agent.sinks.base import WEBHOOK_CONFIGURATION_KIND, Manifest, Sink
from agent.state import CredentialStore
from agent.status import CompassConnection, ConnectionRecord, ConnectionState
from agent.sync import LastCompare, SyncResult, synchronize
from agent.tokenrequests import TokenRequests, TokenRequestStore
from agent.tokenrequests import make_store as token_request_store
from agent.watchers import webhook_configuration

log = structlog.get_logger(__name__)

SYNC_JITTER = 0.2
PROGRESS_INTERVAL_SECONDS = 5.0
EVENT_SERVICE_LABEL = "runtime_eventServiceUrl"
CONSOLE_LABEL = "runtime_consoleUrl"

DirectorFactory = Callable[[Connection, AgentSettings], DirectorClient]


async def close_sink(sink: Sink) -> None:
    close = getattr(sink, "aclose", None)
    if close is not None:
        await close()


def default_director(
    connection: Connection,
    settings: AgentSettings,
    *,
    url: str | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
) -> DirectorClient:
    """The Director the connection names (or ``url``), with the runtime's credentials."""
    store = connection.store
    return DirectorClient(
        url or connection.director_url,
        cert_file=store.chain_file,
        key_file=store.key_file,
        ca_file=store.ca_file,
        timeout=settings.http_timeout,
        transport=transport,
    )


@dataclass
class Outcome:
    """What one iteration did. ``result`` is None when no sync ran or the sync failed."""

    record: CompassConnection
    result: SyncResult | None = None
    error: str | None = None
    connected: bool = False
    renewed: bool = False

    @property
    def state(self) -> ConnectionState | None:
        return self.record.state

    @property
    def synced(self) -> bool:
        return self.result is not None


class Agent:
    """The Runtime Agent of one runtime. ``clock`` and ``rng`` are injectable (to move time, fix jitter)."""

    def __init__(
        self,
        settings: AgentSettings,
        *,
        sink: Sink | None = None,
        clock: Clock = system_clock,
        rng: random.Random | None = None,
        reload_settings: Callable[[], AgentSettings] | None = None,
        director_factory: DirectorFactory = default_director,
        token_requests: TokenRequestStore | None = None,
    ) -> None:
        settings.require_connection_settings()
        self.settings = settings
        self.runtime_id: str = settings.runtime_id  # type: ignore[assignment]  # required just above
        self._owns_sink = sink is None
        self.sink = sink if sink is not None else make_sink(settings)
        self.records = ConnectionRecord(self.sink)
        self.store = CredentialStore(settings.state_dir)
        self.connections = ConnectionManager(
            settings, self.store, clock=clock, reload_settings=reload_settings
        )
        self.clock = clock
        self.rng = rng or random.Random()  # noqa: S311 - jitter, not secrets
        self.backoff = Backoff(base=settings.sync_period, cap=max(300.0, settings.sync_period))
        self._director_factory = director_factory
        self._director: DirectorClient | None = None
        self._director_for_serial: tuple[str, str] | None = None
        self._known_labels: dict[str, Any] | None = None
        self._marked_connected = False
        self._synced_once = False
        self._nudged = asyncio.Event()
        self._push: ChangeSubscription | None = None
        self._watchers_note: str | None = None  # why no webhook configuration is kept, as last logged
        self._last_compare = LastCompare()  # lets an unchanged sync skip rendering and comparing
        # TokenRequests (agent.tokenrequests): filled after each sync; a new one nudges the loop.
        self._owns_token_requests = token_requests is None
        store = token_requests or (token_request_store(settings) if settings.token_requests else None)
        self.token_requests = TokenRequests(store, clock=clock) if store is not None else None

    async def aclose(self) -> None:
        await self._stop_push()
        await self._close_director()
        if self._owns_sink:
            await close_sink(self.sink)
        if self.token_requests is not None and self._owns_token_requests:
            await self.token_requests.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    # --- one iteration --------------------------------------------------------------------------------------

    async def run_once(self, *, dry_run: bool = False) -> Outcome:
        stored = await self.records.load()
        before = stored.to_manifest() if stored is not None else None
        maintenance = await self.connections.ensure(stored)
        record, connection = maintenance.record, maintenance.connection
        if connection is None:
            await self._close_director()
            await self._save_if_changed(record, before)
            return self._outcome(maintenance, error=record.connection_status.error)
        director = await self._director_for(connection)
        self._publish_management_plane(connection)
        if dry_run:
            # Nothing but the connection (if one had to be made) is written.
            await self._save_if_changed(record, before)
            try:
                result = await self._synchronize(director, connection, dry_run=True)
            except AgentError as error:
                return self._outcome(maintenance, error=error.reason)
            return self._outcome(maintenance, result=result)
        return await self._sync(maintenance, connection, director)

    async def renew(self) -> Maintenance:
        """Renews now (or connects, when there is no certificate yet) and records it."""
        stored = await self.records.load()
        maintenance = await self.connections.ensure(stored, force_renewal=True)
        await self.records.save(maintenance.record)
        if maintenance.connection is None:
            await self._close_director()
        return maintenance

    async def _sync(
        self, maintenance: Maintenance, connection: Connection, director: DirectorClient
    ) -> Outcome:
        record = maintenance.record
        status = record.synchronization_status
        now = self.clock()
        status.last_attempt = now
        record.connection_status.last_sync = now
        record.resync_now = False
        try:
            result = await self._synchronize(director, connection, dry_run=False)
        except ApplyFailed as error:
            status.last_successful_fetch = now
            return await self._failed(maintenance, ConnectionState.RESOURCE_APPLICATION_FAILED, error)
        except DirectorError as error:
            state = ConnectionState.SYNCHRONIZATION_FAILED
            outcome = await self._failed(maintenance, state, error, save=False)
            checked = await self.connections.check_certificate(record, connection, error)
            if checked.connection is None:
                await self._close_director()
            await self.records.save(checked.record)
            return outcome
        except AgentError as error:  # the sink could not be read
            return await self._failed(maintenance, ConnectionState.RESOURCE_APPLICATION_FAILED, error)
        self._synced_once = True
        status.last_successful_fetch = status.last_successful_application = now
        status.error = None
        record.connection_status.last_success = now
        state = ConnectionState.SYNCHRONIZED
        label_error = await self._update_labels(director, result)
        if label_error is not None:
            state = ConnectionState.METADATA_UPDATE_FAILED
            status.error = label_error
        if not maintenance.failed:
            record.state = state
        await self.records.save(record)
        if self.token_requests is not None:
            await self.token_requests.reconcile(director)
        plan = result.plan
        log.info(
            "synchronized",
            runtime_id=self.runtime_id,
            unchanged=result.unchanged,
            applications=result.fetched_applications,
            created=len(plan.creates),
            updated=len(plan.updates),
            deleted=len(plan.deletes),
            state=record.state.value if record.state else None,
        )
        return self._outcome(maintenance, result=result, error=label_error)

    async def _failed(
        self, maintenance: Maintenance, state: ConnectionState, error: AgentError, *, save: bool = True
    ) -> Outcome:
        record = maintenance.record
        record.synchronization_status.error = error.reason
        if not maintenance.failed:
            record.state = state
        log.warning(
            "synchronization_failed", runtime_id=self.runtime_id, state=state.value, error=error.reason
        )
        if save:
            await self.records.save(record)
        return self._outcome(maintenance, error=error.reason)

    async def _synchronize(
        self, director: DirectorClient, connection: Connection, *, dry_run: bool
    ) -> SyncResult:
        # In a directory the CA is the state directory's ca.crt, where the event ingress reads it by default.
        ca = self.settings.ca_secret_ref if self.settings.sink == "kubernetes" else None
        also = [ca_secret(*ca, connection.credentials.ca_pem)] if ca else []
        kinds: tuple[str, ...] = KIND_ORDER
        if self.settings.watchers:
            configuration = await self._webhook_configuration(director)
            also += [configuration] if configuration is not None else []
        else:
            kinds = tuple(kind for kind in KIND_ORDER if kind != WEBHOOK_CONFIGURATION_KIND)
        return await synchronize(
            director,
            self.sink,
            runtime_id=self.runtime_id,
            dry_run=dry_run,
            gateway_url=self.settings.gateway_url,
            secret_namespace=self.settings.secret_namespace,
            also=also,
            kinds=kinds,
            last_compare=self._last_compare,
        )

    async def _webhook_configuration(self, director: DirectorClient) -> Manifest | None:
        """The Runtime Watcher's ValidatingWebhookConfiguration as the Director's watchers and the watcher's CA
        file are now; None (the agent then deletes the one it kept) without either. Why there is none is logged
        when that changes, not at every sync."""
        watchers = await director.watchers()
        if watchers is None:
            self._note_watchers("watchers_unsupported", "the Director has no watchers field (Compass's)")
            return None
        if not watchers:
            self._note_watchers("watchers_none", "the Director lists no watcher for this runtime")
            return None
        settings = self.settings
        ca_file = Path(str(settings.watcher_tls_dir)) / "ca.crt"
        try:
            bundle = ca_file.read_bytes()
        except OSError as error:
            self._note_watchers("watcher_ca_missing", f"cannot read {ca_file}: {error.strerror}")
            return None
        self._note_watchers("watchers_registered", f"{len(watchers)} webhook(s) for {ca_file}")
        return webhook_configuration(
            watchers,
            bundle,
            service_name=settings.watcher_service_name,
            service_namespace=settings.watcher_service_namespace,
        )

    def _note_watchers(self, event: str, detail: str) -> None:
        note = f"{event}: {detail}"
        if note != self._watchers_note:
            self._watchers_note = note
            log.info(event, runtime_id=self.runtime_id, detail=detail)

    def _publish_management_plane(self, connection: Connection) -> None:
        """``management-plane.json`` beside the credentials, for the Runtime Watcher; written when it changes."""
        if connection.store.save_management_plane(
            connection.runtime_id, connection.director_url, connection.connector_url
        ):
            log.info(
                "management_plane_written", runtime_id=self.runtime_id, director_url=connection.director_url
            )

    async def _update_labels(self, director: DirectorClient, result: SyncResult) -> str | None:
        """Sets runtime_eventServiceUrl / runtime_consoleUrl where they differ from the runtime's labels."""
        settings = self.settings
        wanted = ((EVENT_SERVICE_LABEL, settings.event_gateway_url), (CONSOLE_LABEL, settings.console_url))
        desired = {key: value for key, value in wanted if value}
        try:
            if not self._marked_connected:
                if await director.mark_connected(self.runtime_id):
                    log.info("runtime_marked_connected", runtime_id=self.runtime_id)
                self._marked_connected = True
            # A 304 repeats the labels of the last full fetch, from before this agent set any: not evidence.
            trusted = not result.unchanged or self._known_labels is None
            observed = dict(result.runtime_labels or {}) if trusted else {}
            if self._known_labels is None and any(key not in observed for key in desired):
                observed = {**await director.runtime_labels(self.runtime_id), **observed}
            # Labels the answer did not carry are as this agent last set them.
            known = {**(self._known_labels or {}), **observed}
            for key, value in desired.items():
                if known.get(key) != value:
                    await director.set_runtime_label(self.runtime_id, key, value)
                    log.info("runtime_label_set", runtime_id=self.runtime_id, key=key, value=value)
                    known[key] = value
            self._known_labels = known
        except (AgentError, httpx.HTTPError, OSError) as error:
            reason = error.reason if isinstance(error, AgentError) else f"{type(error).__name__}: {error}"
            log.warning("metadata_update_failed", runtime_id=self.runtime_id, error=reason)
            return f"setting the runtime labels failed: {reason}"
        return None

    async def _director_for(self, connection: Connection) -> DirectorClient:
        director = await self._client_for(connection)
        if self._push is not None:
            await self._push.follow(director.director_url, connection)  # a new certificate: a new stream
        return director

    async def _client_for(self, connection: Connection) -> DirectorClient:
        key = (connection.director_url, connection.credentials.serial)
        if self._director is not None and self._director_for_serial is not None:
            if self._director_for_serial == key:
                return self._director
            if self._director_for_serial[0] == key[0]:
                await self._director.reload_certificate()  # renewed: same Director, keep its ETag
                self._director_for_serial = key
                return self._director
        await self._close_director()
        self._director = self._director_factory(connection, self.settings)
        self._director_for_serial = key
        return self._director

    async def _close_director(self) -> None:
        if self._push is not None:
            await self._push.follow(None, None)  # no connection, no stream
        if self._director is not None:
            director, self._director, self._director_for_serial = self._director, None, None
            self._known_labels = None
            await director.aclose()

    async def _save_if_changed(self, record: CompassConnection, before: dict[str, Any] | None) -> None:
        if record.to_manifest() != before:
            await self.records.save(record)

    @staticmethod
    def _outcome(
        maintenance: Maintenance, *, result: SyncResult | None = None, error: str | None = None
    ) -> Outcome:
        return Outcome(
            maintenance.record,
            result=result,
            error=error,
            connected=maintenance.connected,
            renewed=maintenance.renewed,
        )

    # --- the loop -------------------------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event | None = None) -> None:
        """Iterates until ``stop`` is set; an iteration still running then is cancelled (every write of the
        sinks and of the credential store is atomic, and the next start picks up where this one stopped)."""
        stop = stop or asyncio.Event()
        log.info(
            "agent_started",
            runtime_id=self.runtime_id,
            period_seconds=self.settings.sync_period,
            push=self.settings.push,
        )
        if self.settings.push:
            self._push = ChangeSubscription(
                self._nudged.set, runtime_id=self.runtime_id, timeout=self.settings.http_timeout, rng=self.rng
            )
        following = (
            asyncio.ensure_future(self.token_requests.follow(self._nudged.set))
            if self.token_requests is not None
            else None
        )
        try:
            await self._iterate(stop)
        finally:
            if following is not None:
                following.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await following
            await self._stop_push()
        log.info("agent_stopped", runtime_id=self.runtime_id)

    async def _iterate(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            self._nudged.clear()  # a nudge from now on, even during this iteration, means one more sync
            iteration = asyncio.ensure_future(self.run_once())
            stopping = asyncio.ensure_future(stop.wait())
            try:
                await self._first_of(iteration, stopping)
            finally:
                stopping.cancel()
                if not iteration.done():
                    iteration.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await iteration
            if iteration.cancelled():
                break
            try:
                delay = self.next_delay(iteration.result())
            except Exception:  # the agent keeps going whatever one iteration hit
                log.exception("iteration_failed", runtime_id=self.runtime_id)
                delay = self.backoff.next_delay(self.rng)
            await self._pause(stop, delay)

    async def _pause(self, stop: asyncio.Event, delay: float) -> None:
        """``delay`` seconds, cut short by the stop or by a nudge of the change stream."""
        waits = {asyncio.ensure_future(stop.wait()), asyncio.ensure_future(self._nudged.wait())}
        try:
            await asyncio.wait(waits, timeout=delay, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for wait in waits:
                wait.cancel()

    async def _stop_push(self) -> None:
        push, self._push = self._push, None
        if push is not None:
            await push.aclose()

    def next_delay(self, outcome: Outcome) -> float:
        """The sync period ±20 %, or the backoff while there is no connection."""
        if outcome.state is ConnectionState.CONNECTION_FAILED:
            return self.backoff.next_delay(self.rng)
        self.backoff.reset()
        period = self.settings.sync_period
        return period * self.rng.uniform(1 - SYNC_JITTER, 1 + SYNC_JITTER)

    async def _first_of(
        self, iteration: asyncio.Future[Outcome], stopping: asyncio.Future[Literal[True]]
    ) -> None:
        """Waits for the iteration or the stop; logs ``initial_sync_in_progress`` every few seconds while the
        agent has not synced yet (a first sync of many applications takes a while)."""
        started = time.monotonic()
        while True:
            timeout = None if self._synced_once else PROGRESS_INTERVAL_SECONDS
            first = asyncio.FIRST_COMPLETED
            either: set[asyncio.Future[Any]] = {iteration, stopping}
            done, _ = await asyncio.wait(either, timeout=timeout, return_when=first)
            if done:
                return
            log.info(
                "initial_sync_in_progress",
                runtime_id=self.runtime_id,
                elapsed_seconds=round(time.monotonic() - started),
            )
