"""One synchronization: fetch what the Director says this runtime sees → desired manifests → diff → apply.

A fetch that fails in any way raises ``SyncFailed`` before the sink is read or written: the agent never
removes resources because the Director could not be asked. When the Director answers 304 (nothing changed
since the last complete fetch), the sink is still read, so a resource removed or changed by hand comes back.
Rendering the answer and comparing it with the sink is skipped when nothing it depends on moved since a sync
found the sink as desired (``LastCompare``): the same answer (the 304 stands for the very ``FetchResult``
compared), the same resources kept beside it (``also``), settings and kinds, and a sink that returned the very
manifests it returned then (sinks hand out their cached manifests, and a resource changed, added or removed since
shows as another object or name; what is not the same object is compared by value). So an unchanged sync costs
the 304 and the sink's own listing (the directory sink: one ``stat`` per file, nothing read; the Kubernetes
sink: its watched cache), and neither renders nor compares 4,000 manifests for 1,000 applications.

Writes go in ``diff.KIND_ORDER``: Applications, then Secrets (a Secret's ownerReference needs the
Application's uid), then the watcher's ValidatingWebhookConfiguration (``agent.watchers``); deletes too, so
that no live Application points at a deleted Secret. Each kind's creates and updates, then each kind's
deletes, are one batch of the sink (``Sink.batch``): its writes run side by side, up to the sink's ``concurrency``, and the next batch starts only once the sink has made this one durable (the directory
sink fsyncs the directory once per batch), so that nothing written later, down to the CompassConnection's status
that the agent saves after the sync, gets ahead of what it follows. A write that fails stops the sync: no further
write starts, those under way finish, the batch is made durable, and ``ApplyFailed`` says what was applied; a
resource of the wanted name that is not the agent's is skipped, the rest applied, and the sync then fails with
``ApplyFailed`` naming it. Applications the
Director gives one resource name (``resources.NameConflict``) fail the sync the same way, after the rest is
applied: the one whose resource exists keeps it untouched, with its Secrets; none is created if none exists.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import structlog

from agent.diff import KIND_ORDER, SyncPlan, plan
from agent.director_client import FetchResult
from agent.errors import AgentError, ApplyFailed, ResourceConflict, SyncFailed
from agent.resources import DEFAULT_GATEWAY_URL, DEFAULT_SECRET_NAMESPACE, NameConflict, desired_resources
from agent.sinks.base import APPLICATION_KIND, Batch, Manifest, Sink

__all__ = ["LastCompare", "NameConflict", "SyncPlan", "SyncResult", "synchronize"]

log = structlog.get_logger("agent.sync")

PROGRESS_EVERY = 100


class ApplicationSource(Protocol):
    """What synchronize needs of a DirectorClient."""

    async def fetch_applications(self, runtime_id: str) -> FetchResult | None: ...

    @property
    def last_result(self) -> FetchResult | None: ...


@dataclass
class LastCompare:
    """What the last sync that found the sink exactly as desired compared (see the module's docstring); the
    caller keeps one per agent and passes it to every ``synchronize``. Empty until such a sync."""

    fetched: FetchResult | None = None
    inputs: tuple[object, ...] = ()  # also, gateway_url, secret_namespace, kinds
    existing: dict[str, dict[str, Manifest]] = field(default_factory=dict)

    def holds(
        self, fetched: FetchResult, inputs: tuple[object, ...], existing: dict[str, dict[str, Manifest]]
    ) -> bool:
        """Whether the plan would still be empty: same answer and inputs, and the sink unchanged since."""
        if fetched is not self.fetched or inputs != self.inputs or existing.keys() != self.existing.keys():
            return False
        return all(_same_resources(existing[kind], self.existing[kind]) for kind in existing)

    def remember(
        self,
        fetched: FetchResult | None,
        inputs: tuple[object, ...],
        existing: dict[str, dict[str, Manifest]],
    ) -> None:
        self.fetched, self.inputs, self.existing = fetched, inputs, existing


def _same_resources(now: dict[str, Manifest], then: dict[str, Manifest]) -> bool:
    if len(now) != len(then):
        return False
    for name, manifest in now.items():
        before = then.get(name)
        if before is not manifest and before != manifest:
            return False
    return True


@dataclass
class SyncResult:
    plan: SyncPlan
    unchanged: bool  # the Director answered 304 Not Modified
    fetched_applications: int
    runtime_labels: dict[str, Any]
    applied: list[str] = field(default_factory=list)  # "<verb> <Kind>/<name>", in order; empty on a dry run
    conflicts: list[NameConflict] = field(default_factory=list)  # applications sharing one resource name
    compared: bool = True  # False: found unchanged since the last compare (LastCompare), nothing rendered


async def synchronize(
    director: ApplicationSource,
    sink: Sink,
    *,
    runtime_id: str,
    dry_run: bool = False,
    gateway_url: str = DEFAULT_GATEWAY_URL,
    secret_namespace: str = DEFAULT_SECRET_NAMESPACE,
    also: Sequence[Manifest] = (),
    kinds: Sequence[str] = KIND_ORDER,
    last_compare: LastCompare | None = None,
) -> SyncResult:
    """``also``: resources the agent keeps beside the applications' (the CA Secret, the watcher's webhook
    configuration), planned with them; ``kinds``: the kinds of the agent's resources read and kept (those of
    ``KIND_ORDER`` the agent is set to keep: the webhook configuration only with watchers on);
    ``last_compare``: the agent's record of its last compare that found nothing to do (None: always compare)."""
    fetched = await director.fetch_applications(runtime_id)
    unchanged = fetched is None
    if fetched is None:
        fetched = director.last_result
        if fetched is None:
            raise SyncFailed("the Director answered 304 Not Modified to a client that has fetched nothing")
    try:
        existing = {kind: await sink.list_owned(kind) for kind in kinds}
    except AgentError as exc:
        raise ApplyFailed(f"cannot read the current resources: {exc.reason}") from exc
    inputs = (list(also), gateway_url, secret_namespace, tuple(kinds))
    if unchanged and last_compare is not None and last_compare.holds(fetched, inputs, existing):
        return SyncResult(
            SyncPlan(), True, len(fetched.applications), dict(fetched.runtime_labels), compared=False
        )
    desired, conflicts = desired_resources(
        fetched.applications,
        existing=existing[APPLICATION_KIND],
        gateway_url=gateway_url,
        secret_namespace=secret_namespace,
    )
    for conflict in conflicts:
        log.warning(
            "application_name_conflict",
            name=conflict.name,
            application_ids=list(conflict.application_ids),
            kept=conflict.kept,
        )
    sync_plan = plan([*desired, *also], existing)
    result = SyncResult(sync_plan, unchanged, len(fetched.applications), dict(fetched.runtime_labels))
    result.conflicts = conflicts
    if dry_run:
        return result
    if last_compare is not None:
        # Only a compare that found nothing to do is one to stand for later ones.
        found_equal = sync_plan.empty and not conflicts
        last_compare.remember(fetched if found_equal else None, inputs, existing)
    reasons = [conflict.reason for conflict in conflicts]
    if not sync_plan.empty:
        reasons += await _apply(sync_plan, sink, result.applied)
        log.info(
            "sync_applied",
            creates=len(sync_plan.creates),
            updates=len(sync_plan.updates),
            deletes=len(sync_plan.deletes),
        )
    if reasons:
        raise ApplyFailed("; ".join(reasons), applied=result.applied)
    return result


async def _apply(sync_plan: SyncPlan, sink: Sink, applied: list[str]) -> list[str]:
    """Writes the plan; returns why resources that are not the agent's were left as they are."""
    writes = _Writes(applied, total=len(sync_plan.creates) + len(sync_plan.updates) + len(sync_plan.deletes))
    for batch in _batches(sync_plan):
        await writes.run(sink, batch)
    return writes.conflicts


@dataclass(frozen=True)
class _Write:
    verb: str  # create, update or delete
    kind: str
    name: str
    manifest: Manifest | None = None  # None: a delete

    @property
    def step(self) -> str:
        return f"{self.verb} {self.kind}/{self.name}"

    def into(self, batch: Batch) -> Awaitable[None]:
        return batch.delete(self.kind, self.name) if self.manifest is None else batch.apply(self.manifest)


def _batches(sync_plan: SyncPlan) -> list[list[_Write]]:
    """Creates and updates, one batch per kind in KIND_ORDER (creates first within it), then deletes alike."""
    rank = {kind: index for index, kind in enumerate(KIND_ORDER)}

    def order(write: _Write) -> tuple[bool, int]:
        return write.verb == "delete", rank.get(write.kind, len(KIND_ORDER))

    writes = [
        _Write(verb, item["kind"], item["metadata"]["name"], item)
        for verb, items in (("create", sync_plan.creates), ("update", sync_plan.updates))
        for item in items
    ]
    writes += [_Write("delete", kind, name) for kind, name in sync_plan.deletes]
    return [list(group) for _, group in itertools.groupby(sorted(writes, key=order), key=order)]


class _Writes:
    """The writes of one sync so far: ``applied`` (shared with the caller), the reasons of resources that are
    not the agent's, and the first write that failed."""

    def __init__(self, applied: list[str], *, total: int) -> None:
        self.applied = applied
        self.total = total
        self.conflicts: list[str] = []
        self.failed: tuple[str, Exception] | None = None

    async def run(self, sink: Sink, writes: list[_Write]) -> None:
        """One batch: ``concurrency`` writers take the writes in turn until none is left or one failed."""
        pending = iter(writes)
        async with sink.batch() as batch:

            async def writer() -> None:
                for write in pending:  # one iterator for all writers: each write is taken once
                    if self.failed is not None:
                        return
                    await self._attempt(write, batch)

            async with asyncio.TaskGroup() as group:
                for _ in range(max(1, batch.concurrency)):
                    group.create_task(writer())
        if self.failed is not None:
            step, exc = self.failed
            if isinstance(exc, AgentError):
                raise ApplyFailed(exc.reason, applied=self.applied, failed=step, code=exc.code) from exc
            raise ApplyFailed(f"{step}: {exc!r}", applied=self.applied, failed=step) from exc

    async def _attempt(self, write: _Write, batch: Batch) -> None:
        try:
            await write.into(batch)
        except ResourceConflict as exc:
            log.warning("resource_not_ours", step=write.step, reason=exc.reason)
            self.conflicts.append(exc.reason)
            return
        # A sink's unexpected error must not look like success, nor end the agent: ApplyFailed, once the batch ends.
        except Exception as exc:  # noqa: BLE001
            if self.failed is None:
                self.failed = (write.step, exc)
            return
        self.applied.append(write.step)
        done = len(self.applied) + len(self.conflicts)
        if done % PROGRESS_EVERY == 0:
            log.info("sync_progress", done=done, total=self.total)
