"""One synchronization: fetch what the Director says this runtime sees → desired manifests → diff → apply.

A fetch that fails in any way raises ``SyncFailed`` before the sink is read or written: the agent never
removes resources because the Director could not be asked. When the Director answers 304 (nothing changed
since the last complete fetch), the desired state is rebuilt from that fetch and still compared with the sink,
so a resource removed by hand comes back; an unchanged sink then costs two reads and no write.

Writes go in ``diff.KIND_ORDER``: Applications, then Secrets (a Secret's ownerReference needs the
Application's uid); deletes too, so that no live Application points at a deleted Secret. A write that fails
stops the sync (``ApplyFailed`` says what was already applied); a resource of the wanted name that is not the
agent's is skipped, the rest applied, and the sync then fails with ``ApplyFailed`` naming it. Applications the
Director gives one resource name (``resources.NameConflict``) fail the sync the same way, after the rest is
applied: the one whose resource exists keeps it untouched, with its Secrets; none is created if none exists.
"""

from __future__ import annotations

from collections.abc import Awaitable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import structlog

from agent.diff import KIND_ORDER, SyncPlan, plan
from agent.director_client import FetchResult
from agent.errors import AgentError, ApplyFailed, ResourceConflict, SyncFailed
from agent.resources import DEFAULT_GATEWAY_URL, DEFAULT_SECRET_NAMESPACE, NameConflict, desired_resources
from agent.sinks.base import APPLICATION_KIND, Manifest, Sink

__all__ = ["NameConflict", "SyncPlan", "SyncResult", "synchronize"]

log = structlog.get_logger("agent.sync")

PROGRESS_EVERY = 100


class ApplicationSource(Protocol):
    """What synchronize needs of a DirectorClient."""

    async def fetch_applications(self, runtime_id: str) -> FetchResult | None: ...

    @property
    def last_result(self) -> FetchResult | None: ...


@dataclass
class SyncResult:
    plan: SyncPlan
    unchanged: bool  # the Director answered 304 Not Modified
    fetched_applications: int
    runtime_labels: dict[str, Any]
    applied: list[str] = field(default_factory=list)  # "<verb> <Kind>/<name>", in order; empty on a dry run
    conflicts: list[NameConflict] = field(default_factory=list)  # applications sharing one resource name


async def synchronize(
    director: ApplicationSource,
    sink: Sink,
    *,
    runtime_id: str,
    dry_run: bool = False,
    gateway_url: str = DEFAULT_GATEWAY_URL,
    secret_namespace: str = DEFAULT_SECRET_NAMESPACE,
    also: Sequence[Manifest] = (),
) -> SyncResult:
    """``also``: resources the agent keeps beside the applications' (the CA Secret), planned with them."""
    fetched = await director.fetch_applications(runtime_id)
    unchanged = fetched is None
    if fetched is None:
        fetched = director.last_result
        if fetched is None:
            raise SyncFailed("the Director answered 304 Not Modified to a client that has fetched nothing")
    try:
        existing = {kind: await sink.list_owned(kind) for kind in KIND_ORDER}
    except AgentError as exc:
        raise ApplyFailed(f"cannot read the current resources: {exc.reason}") from exc
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
    rank = {kind: index for index, kind in enumerate(KIND_ORDER)}
    writes: list[tuple[str, Manifest]] = [("create", item) for item in sync_plan.creates]
    writes += [("update", item) for item in sync_plan.updates]
    # Stable: within a kind, creates stay before updates.
    writes.sort(key=lambda write: rank.get(write[1]["kind"], len(KIND_ORDER)))
    total = len(writes) + len(sync_plan.deletes)
    conflicts: list[str] = []

    async def attempt(step: str, action: Awaitable[None]) -> None:
        try:
            await action
        except ResourceConflict as exc:
            log.warning("resource_not_ours", step=step, reason=exc.reason)
            conflicts.append(exc.reason)
            return
        except AgentError as exc:
            raise ApplyFailed(exc.reason, applied=applied, failed=step, code=exc.code) from exc
        except Exception as exc:  # a sink's unexpected error must not look like success, nor end the agent
            raise ApplyFailed(f"{step}: {exc!r}", applied=applied, failed=step) from exc
        applied.append(step)
        done = len(applied) + len(conflicts)
        if done % PROGRESS_EVERY == 0:
            log.info("sync_progress", done=done, total=total)

    for verb, manifest in writes:
        await attempt(f"{verb} {manifest['kind']}/{manifest['metadata']['name']}", sink.apply(manifest))
    for kind, name in sync_plan.deletes:
        await attempt(f"delete {kind}/{name}", sink.delete(kind, name))
    return conflicts
