"""Where a runtime's cached view is invalidated: the unit of work every Director write runs in.

A service says what it is about to change, before its first write, by declaring it on the unit of work of its
session (``changes(session)``): one runtime's own rows, a new runtime, a row of one application's tree, or
anything else of the tenant. The declaration takes the locks that write needs at once, in the lock order
``director.polling.revision`` documents, and records what to bump; the unit of work bumps the rest when the write
is done, just before the commit. A write that declared nothing bumps every view of its tenant: forgetting to
declare costs cache hits, never a stale answer.

The GraphQL layer only opens the unit of work (``DirectorContext.writing``); it knows nothing of what a mutation
invalidates.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager

from sqlalchemy.ext.asyncio import AsyncSession

from director.polling.revision import ApplicationPart, RevisionRepository
from kernel.db import Database
from kernel.errors import TenantNotFoundError
from kernel.repository import WRITING

_KEY = "director.changes"
_ROOT = "director.changes.root"


class Changes:
    """What one transaction of one tenant declared it changes, and the bumps still owed at its commit."""

    def __init__(self, session: AsyncSession, tenant_id: str) -> None:
        self.tenant_id = tenant_id
        self._session = session
        self._revisions = RevisionRepository(session)
        self._declared = False
        self._tenant_locked = False
        self._runtime_locked = False
        self._bump_tenant = False
        self._applications: dict[str, frozenset[str]] = {}
        self._other_tenants: set[str] = set()
        self._elsewhere: dict[str, Changes] = {}

    async def runtime(self, runtime_id: str, *, formations: bool = False) -> None:
        """A write to one runtime alone (its labels, status, webhooks, tokens, runtime contexts); ``formations``
        when it may move the runtime or one of its contexts between formations, or delete it. Bumps (and locks)
        that runtime's row now.

        A runtime that is an application's default for eventing and leaves a formation changes what other
        runtimes' views show as that application's ``eventingConfiguration``: then every view of the tenant is
        bumped. Read under the runtime's lock, so a default chosen concurrently (which locks it too) is seen."""
        if formations:
            await self._lock_tenant()
        await self._revisions.bump_runtime(runtime_id)
        self._declared = self._runtime_locked = True
        if formations and await self._revisions.is_default_for_eventing(self.tenant_id, runtime_id):
            self._bump_tenant = True

    async def new_runtime(self) -> None:
        """A runtime being registered: no cached view holds it yet, but its formations must hold still."""
        await self._lock_tenant()
        self._declared = True

    async def application(self, part: ApplicationPart, part_id: str, *, joining: Sequence[str] = ()) -> None:
        """A write within the tree of the application that ``part`` (a model) with id ``part_id`` belongs to;
        ``joining`` names the formations the write may put the application in, so that their runtimes are locked
        in order, now. A part that belongs to no application (a runtime's webhook, a missing row) counts as the
        tenant's."""
        await self._lock_tenant()
        self._declared = True
        application_id = await self._revisions.application_owning(part, part_id)
        if application_id is None:
            self._bump_tenant = True
            return
        # The other tenants that see the application (director.tenantaccess): every view of theirs.
        self.other_tenants(await self._revisions.sharing(application_id))
        bumped = self._applications.get(application_id, frozenset())
        formations = await self._revisions.formations_of(self.tenant_id, application_id)
        names = frozenset((*formations, *joining)) - bumped
        await self._revisions.bump_runtimes_sharing(self.tenant_id, names)
        self._applications[application_id] = bumped | names

    async def tenant(self) -> None:
        """Anything else (formations, label definitions, a new application): every view of the tenant."""
        await self._lock_tenant()
        self._declared = self._bump_tenant = True

    def other_tenants(self, tenant_ids: Sequence[str]) -> None:
        """A write other tenants see (a grant given or taken back): every view of theirs, bumped at the commit."""
        self._declared = True
        self._other_tenants.update(tenant_id for tenant_id in tenant_ids if tenant_id != self.tenant_id)

    async def grants_of(self, home_tenant_id: str) -> None:
        """Grants of an application of ``home_tenant_id`` about to be read and changed: that tenant's row is locked
        (bumping nothing there), the lock every writer of the application in its home tenant holds while it reads
        the tenants sharing it (``application``) until its commit. So such a writer either saw the grant, or the
        grant waits for its commit, and the grantee's bump comes after the write."""
        home = self.elsewhere(home_tenant_id)
        await home._lock_tenant()
        home._declared = True

    def outside_views(self) -> None:
        """A write no runtime's view shows (certificate subject mappings, tenants' own records): nothing to bump."""
        self._declared = True

    async def _lock_tenant(self) -> None:
        if self._tenant_locked:
            return
        if self._runtime_locked:
            # The tenant row comes first in the lock order: taking it now could deadlock with an operator's write.
            raise RuntimeError("declare the tenant's or an application's change before a runtime's own")
        if not await self._revisions.lock_tenant(self.tenant_id):
            raise TenantNotFoundError(f"tenant {self.tenant_id!r} does not exist")
        self._tenant_locked = True

    def elsewhere(self, tenant_id: str) -> Changes:
        """This unit of work's declarations in another tenant (``acting_in``), settled with its own."""
        if tenant_id == self.tenant_id:
            return self
        if tenant_id not in self._elsewhere:
            self._elsewhere[tenant_id] = Changes(self._session, tenant_id)
        return self._elsewhere[tenant_id]

    async def settle(self) -> None:
        """Just before the commit: the bumps the write owes beyond those its declarations took."""
        for other in self._elsewhere.values():
            await other.settle()
        for tenant_id in sorted(self._other_tenants):
            await self._revisions.bump_tenant(tenant_id)
        if not self._declared or self._bump_tenant:
            await self._revisions.bump_tenant(self.tenant_id)
            return
        for application_id, named in self._applications.items():
            # Formations the application joined that no declaration named: their runtimes are locked late (out
            # of order: the Director retries a deadlock), but bumped.
            unnamed = frozenset(await self._revisions.formations_of(self.tenant_id, application_id)) - named
            await self._revisions.bump_runtimes_sharing(self.tenant_id, unnamed)


def changes(session: AsyncSession) -> Changes:
    """The unit of work ``session`` belongs to; a write outside one is a programming error, not a stale cache."""
    found: Changes | None = session.info.get(_KEY)
    if found is None:
        raise RuntimeError("a Director write must run in director.polling.invalidation.unit_of_work")
    return found


@contextmanager
def acting_in(session: AsyncSession, tenant_id: str) -> Iterator[None]:
    """Within the block, what the services declare (``changes(session)``) is ``tenant_id``'s, and is settled with
    the unit of work: for the one write that acts in tenants other than its caller's (a subscription registers an
    application in the consumer's tenant, labels the provider's runtime). Each tenant's row is locked when the
    write first declares a change there, so two such writes may meet in opposite orders; PostgreSQL then aborts
    one and the Director runs it again (``director.graphql.retry``)."""
    current = changes(session)
    session.info[_KEY] = session.info[_ROOT].elsewhere(tenant_id)
    try:
        yield
    finally:
        session.info[_KEY] = current


@asynccontextmanager
async def unit_of_work(database: Database, tenant_id: str) -> AsyncIterator[AsyncSession]:
    """One transaction of one tenant whose declared changes bump the revisions of the views they invalidate."""
    async with database.transaction() as session:
        work = Changes(session, tenant_id)
        session.info[_KEY] = session.info[_ROOT] = work
        session.info[WRITING] = True
        try:
            yield session
            await work.settle()
        finally:
            session.info.pop(_KEY, None)
            session.info.pop(_ROOT, None)
            session.info.pop(WRITING, None)
