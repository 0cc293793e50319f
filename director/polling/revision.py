"""Revisions: every Director write bumps the ones of the views it changes, in its own transaction.

A runtime's view (``applicationsForRuntime``, and itself) is keyed by its tenant's revision and its own. A write
bumps the narrowest revisions that cover what it changes, so a fleet keeps its cached answers through changes that
are not theirs:

- a write to one runtime alone (its labels, formations, status, tokens): that runtime's revision;
- a write within one application's tree (the application, its labels, bundles, definitions, documents, webhooks,
  instance auths, tokens): the revisions of the runtimes sharing a formation with it, and of its formations, before
  and after the write (views shared by runtimes with the same formations are keyed by the latter);
- anything else (formations, label definitions, a runtime's webhooks...): the tenant's, which every view includes.

Which runtimes share a formation with an application must not change while such a write decides it, so every
write that is not a runtime's own takes its tenant's row lock first, and so does a runtime's own write that changes
its formations. (SQLite runs one writer at a time; the row lock matters on PostgreSQL.) Runtime rows are locked in id
order, the order the last-seen flush uses too.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from director.label.filters import LabelCondition
from director.label.repository import LabelledKind, LabelRepository
from director.label.service import SCENARIOS
from director.models import (
    APIDefinition,
    Application,
    Bundle,
    BundleInstanceAuth,
    Document,
    EventDefinition,
    Formation,
    Runtime,
    SystemAuth,
    Tenant,
    Webhook,
)

_UNDER_BUNDLE = (APIDefinition, EventDefinition, Document, BundleInstanceAuth)

ApplicationPart = type[Application | Bundle | APIDefinition | EventDefinition | Document | BundleInstanceAuth | Webhook | SystemAuth]


@dataclass(frozen=True)
class _Bump:
    runtime_id: str | None = None
    application_id: str | None = None
    tenant: bool = False


class RevisionRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def before_write(
        self,
        tenant_id: str,
        *,
        runtime_id: str | None,
        runtime_formations: bool,
        new_runtime: bool,
        application_part: tuple[ApplicationPart, str] | None,
    ) -> _Bump:
        """Takes the locks the write needs and bumps the views that hold what it is about to change; the arguments
        say what the write concerns, as its resolver knows it before the write (see ``DirectorContext.writing``)."""
        if runtime_id is not None and not runtime_formations:
            return _Bump(runtime_id=runtime_id)
        await self._lock_tenant(tenant_id)
        if runtime_id is not None:
            return _Bump(runtime_id=runtime_id)
        if new_runtime:
            return _Bump()
        if application_part is not None:
            application_id = await self._application_owning(tenant_id, *application_part)
            if application_id is not None:
                await self._bump_runtimes_sharing(tenant_id, application_id)
                return _Bump(application_id=application_id)
        return _Bump(tenant=True)

    async def after_write(self, tenant_id: str, bump: _Bump) -> None:
        """Bumps the views that hold what the write changed (an application's formations may be new ones)."""
        if bump.runtime_id is not None:
            await self.session.execute(
                update(Runtime)
                .where(Runtime.tenant_id == tenant_id, Runtime.id == bump.runtime_id)
                .values(revision=Runtime.revision + 1)
            )
        elif bump.application_id is not None:
            await self._bump_runtimes_sharing(tenant_id, bump.application_id)
        elif bump.tenant:
            await self.bump_tenant(tenant_id)

    async def bump_tenant(self, tenant_id: str) -> None:
        """Every view of the tenant: what a writer outside the GraphQL mutations (seeding, imports) must call."""
        await self.session.execute(update(Tenant).where(Tenant.id == tenant_id).values(revision=Tenant.revision + 1))

    async def current(self, tenant_id: str, runtime_id: str) -> tuple[int, int] | None:
        """The tenant's and the runtime's revision, in one statement."""
        statement = (
            select(Tenant.revision, Runtime.revision)
            .join(Runtime, Runtime.tenant_id == Tenant.id)
            .where(Tenant.id == tenant_id, Runtime.id == runtime_id)
        )
        row = (await self.session.execute(statement)).first()
        return (int(row[0]), int(row[1])) if row is not None else None

    async def formation_revisions(self, tenant_id: str, names: Sequence[str]) -> tuple[int, tuple[tuple[str, int], ...]]:
        """The tenant's revision and those of the named formations, in one statement: a shared view's key."""
        statement = (
            select(Tenant.revision, Formation.name, Formation.revision)
            .select_from(Tenant)
            .outerjoin(Formation, (Formation.tenant_id == Tenant.id) & Formation.name.in_(names))
            .where(Tenant.id == tenant_id)
        )
        rows = (await self.session.execute(statement)).all()
        tenant_revision = int(rows[0][0]) if rows else -1
        return tenant_revision, tuple(sorted((row[1], int(row[2])) for row in rows if row[1] is not None))

    async def _lock_tenant(self, tenant_id: str) -> None:
        await self.session.execute(select(Tenant.id).where(Tenant.id == tenant_id).with_for_update())

    async def _application_owning(self, tenant_id: str, part: ApplicationPart, part_id: str) -> str | None:
        """The application a row belongs to; None when it belongs to none (a runtime's webhook) or is missing."""
        if part is Application:
            statement = select(Application.id).where(Application.tenant_id == tenant_id, Application.id == part_id)
        elif part is Bundle:
            statement = select(Bundle.application_id).where(Bundle.tenant_id == tenant_id, Bundle.id == part_id)
        elif part in _UNDER_BUNDLE:
            statement = (
                select(Bundle.application_id)
                .join(part, part.bundle_id == Bundle.id)
                .where(part.tenant_id == tenant_id, part.id == part_id)
            )
        else:
            statement = select(part.application_id).where(part.tenant_id == tenant_id, part.id == part_id)
        return (await self.session.execute(statement)).scalar_one_or_none()

    async def _bump_runtimes_sharing(self, tenant_id: str, application_id: str) -> None:
        labels = LabelRepository(self.session)
        label = await labels.get(tenant_id, LabelledKind.APPLICATION, application_id, SCENARIOS)
        names = tuple(label.value) if label is not None and isinstance(label.value, list) else ()
        if not names:
            return
        sharing = labels.owners_matching(tenant_id, LabelledKind.RUNTIME, LabelCondition(key=SCENARIOS, any_of=names))
        locked = select(Runtime.id).where(Runtime.tenant_id == tenant_id, Runtime.id.in_(sharing))
        await self.session.execute(locked.order_by(Runtime.id).with_for_update())
        await self.session.execute(
            update(Runtime)
            .where(Runtime.tenant_id == tenant_id, Runtime.id.in_(sharing))
            .values(revision=Runtime.revision + 1)
        )
        await self.session.execute(
            update(Formation)
            .where(Formation.tenant_id == tenant_id, Formation.name.in_(names))
            .values(revision=Formation.revision + 1)
        )
