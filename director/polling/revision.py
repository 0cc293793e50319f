"""Revisions: every Director write bumps the ones of the views it changes, in its own transaction (the unit of
work in ``director.polling.invalidation`` decides which; this module holds the statements).

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
its formations. (SQLite runs one writer at a time; what follows is about PostgreSQL.)

Lock order. PostgreSQL breaks a cycle of row-lock waits by aborting one transaction ("deadlock detected"), so
every writer takes its row locks in one order, and none waits for a lock while it holds a later one:

1. the tenant row, FOR NO KEY UPDATE: by every write that is not a runtime's own, and by a runtime's own that
   changes its formations. NO KEY UPDATE, not UPDATE: every insert into a tenant-scoped table takes a KEY SHARE
   lock on the tenant row (its foreign key), and FOR UPDATE would make each such insert (a runtime's new label)
   wait for, and deadlock with, an operator's write that waits for that runtime;
2. runtime rows, in id order, FOR NO KEY UPDATE (inserts referencing a runtime take KEY SHARE and pass): a
   runtime's own write locks its one row with the revision bump, before it touches anything else of the runtime,
   so two writes to one runtime queue there instead of meeting on its labels in different orders; an application
   write locks every runtime that shares a formation with the application before or after the write in one
   statement, so the service names the formations the write may add (``joining``); the last-seen
   flush (``last_seen``) updates runtime rows one at a time in id order;
3. formation rows (revision bumps, FOR SHARE by an assignment): only under the tenant lock, so one at a time;
4. everything else: the runtime's or the application's own rows (labels, bundles, auths...), the Connector's;
5. at the commit, other tenants' rows, in id order, by UPDATE (``bump_tenant``, ``Changes.settle``): the tenants
   that share an application the write changed (``sharing``: the one it was made in and its grantees,
   ``director.tenantaccess``) and those given or losing a grant. (A write acting in several tenants, ``acting_in``,
   locks each one's row when it first declares a change there: ``director.polling.invalidation``.) These are
   taken last, holding everything above, so they may close a cycle: two writes bumping each other's tenant, or an
   application's home-tenant writer bumping its owner grantee's tenant while that grantee's write to the same
   application holds its own tenant row and waits for a row of the application. PostgreSQL aborts one and the
   Director runs it again.

So a runtime's own write, holding its runtime row, waits only for that runtime's other rows; the flush waits for
a runtime row holding only rows with smaller ids; an application write waits for runtime rows holding only the
tenant row and rows with smaller ids. What the order leaves open, the Director retries (``director.graphql.retry``):
a runtime's DELETE, which waits for inserts referencing its row to end; formations an application joins without
its service naming them (their runtimes are locked after the write); the other tenants' rows bumped at the commit
(5), which break the rule; PostgreSQL's serialization failures.

Grants and the writers of an application meet on its home tenant's row: ``addTenantAccess`` and
``removeTenantAccess`` of an application lock it before they read or change its grants (``Changes.grants_of``),
and a writer of the application in its home tenant holds it from before it reads the tenants sharing the
application (``sharing``) to its commit, when it bumps them. So a grant committed while such a write runs is
seen by it, or waits for its commit and bumps the grantee after it. What stays racy: an owner grantee's write to
the application locks the grantee's own tenant row, not the home tenant's; a grant to a third tenant committed
between that write's ``sharing`` read and its commit is not bumped by it, and the third tenant may cache a view
without the write until the application's next change (a grant's own bump comes before that write commits).
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Select, select, union, update
from sqlalchemy.ext.asyncio import AsyncSession

from director.eventing.labels import DEFAULT_EVENTING_SUFFIX
from director.label.filters import LabelCondition
from director.label.repository import LabelledKind, LabelRepository
from director.models import (
    SCENARIOS,
    APIDefinition,
    Application,
    Bundle,
    BundleInstanceAuth,
    Document,
    EventDefinition,
    Formation,
    IntegrationDependency,
    Label,
    Runtime,
    SystemAuth,
    Tenant,
    TenantAccess,
    Webhook,
)
from kernel.changes import note, runtime_view, tenant_views

_UNDER_BUNDLE = (Document, BundleInstanceAuth)
# Rows that name their application themselves (definitions do whether in a bundle or not).
_NAMING_APPLICATION = (APIDefinition, EventDefinition, IntegrationDependency, Webhook, SystemAuth)

ApplicationPart = type[
    Application
    | Bundle
    | APIDefinition
    | EventDefinition
    | Document
    | BundleInstanceAuth
    | Webhook
    | SystemAuth
    | IntegrationDependency
]


class RevisionRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def bump_runtime(self, runtime_id: str) -> None:
        """One runtime's view; the UPDATE also takes its row lock, before the write touches the runtime's rows.

        By id alone, whichever tenant the runtime is in: a tenant granted the runtime as an owner writes to it, a
        tenant granted one of its contexts writes that context, a subscription's consumer unregisters its own
        context on the provider's runtime (``director.tenantaccess``). So the bump comes before the service checks
        that the writer may change the runtime: a write it refuses has held that runtime's row (possibly another
        tenant's) until its rollback, which undoes the bump."""
        await self.session.execute(
            update(Runtime).where(Runtime.id == runtime_id).values(revision=Runtime.revision + 1)
        )
        note(self.session, runtime_view(runtime_id))

    async def bump_tenant(self, tenant_id: str) -> None:
        """Every view of the tenant: what a writer outside the GraphQL mutations (seeding, imports) must call."""
        await self.session.execute(update(Tenant).where(Tenant.id == tenant_id).values(revision=Tenant.revision + 1))
        note(self.session, tenant_views(tenant_id))

    async def current(self, tenant_id: str, runtime_id: str) -> tuple[int, int] | None:
        """The tenant's and the runtime's revision, in one statement."""
        statement = (
            select(Tenant.revision, Runtime.revision)
            .join(Runtime, Runtime.tenant_id == Tenant.id)
            .where(Tenant.id == tenant_id, Runtime.id == runtime_id)
        )
        row = (await self.session.execute(statement)).first()
        return (int(row[0]), int(row[1])) if row is not None else None

    async def current_of(self, runtime_ids: Sequence[str]) -> dict[tuple[str, str], tuple[int, int]]:
        """``current`` of many runtimes in one statement, keyed by (tenant, runtime)."""
        statement = (
            select(Tenant.id, Runtime.id, Tenant.revision, Runtime.revision)
            .join(Runtime, Runtime.tenant_id == Tenant.id)
            .where(Runtime.id.in_(runtime_ids))
        )
        rows = (await self.session.execute(statement)).all()
        return {(tenant_id, runtime_id): (int(tenant), int(own)) for tenant_id, runtime_id, tenant, own in rows}

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

    async def lock_tenant(self, tenant_id: str) -> bool:
        """False when the tenant is gone (deleteTenants), though its operators' tokens are still valid."""
        statement = select(Tenant.id).where(Tenant.id == tenant_id)
        return (await self.session.execute(statement.with_for_update(key_share=True))).first() is not None  # FOR NO KEY UPDATE

    async def application_owning(self, part: ApplicationPart, part_id: str) -> str | None:
        """The application a row belongs to, in whichever tenant (a tenant granted an application writes rows of
        another's: ``director.tenantaccess``); None when it belongs to none (a runtime's webhook) or is missing.

        A read, before the service checks that the writer may change the row: for one it may not, the declaration
        still locks and bumps the runtimes of the writer's own tenant in the formations the writer named or put
        the application in (none, for an application it never saw), and the other tenants' bumps wait for a
        commit that never comes; the refused write rolls it all back."""
        statement: Select[str | None]
        if part is Application:
            statement = select(Application.id).where(Application.id == part_id)
        elif part is Bundle:
            statement = select(Bundle.application_id).where(Bundle.id == part_id)
        elif issubclass(part, _UNDER_BUNDLE):
            statement = select(Bundle.application_id).join(part, part.bundle_id == Bundle.id).where(part.id == part_id)
        elif issubclass(part, _NAMING_APPLICATION):
            statement = select(part.application_id).where(part.id == part_id)
        else:
            raise TypeError(f"{part.__name__} is not a part of an application's tree")
        return (await self.session.execute(statement)).scalar_one_or_none()

    async def sharing(self, application_id: str) -> list[str]:
        """The tenants that see the application: the one it was made in and those granted it, in one statement."""
        statement = union(
            select(Application.tenant_id).where(Application.id == application_id),
            select(TenantAccess.tenant_id).where(
                TenantAccess.resource_type == "APPLICATION", TenantAccess.resource_id == application_id
            ),
        )
        return list((await self.session.execute(statement)).scalars())

    async def is_default_for_eventing(self, tenant_id: str, runtime_id: str) -> bool:
        """Whether the runtime is labelled some application's default for eventing (``<app>_defaultEventing``)."""
        statement = select(Label.id).where(
            Label.tenant_id == tenant_id,
            Label.runtime_id == runtime_id,
            Label.key.endswith(DEFAULT_EVENTING_SUFFIX, autoescape=True),
        )
        return (await self.session.execute(statement.limit(1))).first() is not None

    async def formations_of(self, tenant_id: str, application_id: str) -> tuple[str, ...]:
        label = await LabelRepository(self.session).get(tenant_id, LabelledKind.APPLICATION, application_id, SCENARIOS)
        return tuple(label.value) if label is not None and isinstance(label.value, list) else ()

    async def bump_runtimes_sharing(self, tenant_id: str, formations: frozenset[str]) -> None:
        """The runtimes in any of ``formations``, locked in id order in one statement, and those formations."""
        if not formations:
            return
        names = sorted(formations)
        labels = LabelRepository(self.session)
        sharing = labels.owners_matching(tenant_id, LabelledKind.RUNTIME, LabelCondition(key=SCENARIOS, any_of=tuple(names)))
        locked = select(Runtime.id).where(Runtime.tenant_id == tenant_id, Runtime.id.in_(sharing))
        await self.session.execute(locked.order_by(Runtime.id).with_for_update(key_share=True))
        bumped = await self.session.execute(
            update(Runtime)
            .where(Runtime.tenant_id == tenant_id, Runtime.id.in_(sharing))
            .values(revision=Runtime.revision + 1)
            .returning(Runtime.id)
        )
        note(self.session, *map(runtime_view, bumped.scalars()))
        await self.session.execute(
            update(Formation)
            .where(Formation.tenant_id == tenant_id, Formation.name.in_(names))
            .values(revision=Formation.revision + 1)
        )
