"""Writes to one row of an application's tree (the application, its bundles, their definitions, documents and
instance auths, its webhooks and system auths): each declares the change of the application the row belongs to
before it reads the row, so its locks are taken in order (``director.polling.invalidation``)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

from director.application.repository import ApplicationRepository
from director.polling.invalidation import changes
from kernel.errors import ForbiddenError, NotFoundError
from kernel.models import IdMixin
from kernel.repository import TenantScopedRepository

M = TypeVar("M", bound=IdMixin)


async def changing(
    repository: TenantScopedRepository[M], tenant_id: str, part_id: str, *, joining: Sequence[str] = ()
) -> M:
    """The row a write is about to change, its change declared (``joining``: see ``Changes.application``); a
    missing row is the caller's NOT_FOUND."""
    await changes(repository.session).application(repository.model, part_id, joining=joining)
    return await repository.get_or_raise(tenant_id, part_id)


async def changing_in_formation_of(
    runtime_id: str,
    repository: TenantScopedRepository[M],
    tenant_id: str,
    part_id: str,
    application_of: Callable[[M], str],
) -> M:
    """As ``changing``, for a runtime's write: the row must be of an application sharing a formation with the
    runtime (``application_of`` names it). A missing row, another tenant's and one outside the runtime's formations
    are the same FORBIDDEN, so the answer tells nothing of what exists; the formations are read under the lock the
    declaration took, so they hold until the commit."""
    try:
        part: M | None = await changing(repository, tenant_id, part_id)
    except NotFoundError:
        part = None
    session = repository.session
    if part is None or not await ApplicationRepository(session).in_formation_of(tenant_id, runtime_id, application_of(part)):
        raise ForbiddenError(f"{repository.noun} {part_id} is not of an application in a formation of runtime {runtime_id}")
    return part


async def update(repository: TenantScopedRepository[M], tenant_id: str, part_id: str, apply: Callable[[M], object]) -> M:
    """The row changed by ``apply`` (which validates the input as it copies it)."""
    part = await changing(repository, tenant_id, part_id)
    apply(part)
    await repository.session.flush()
    return part


async def delete(repository: TenantScopedRepository[M], tenant_id: str, part_id: str) -> M:
    """The row, deleted with what hangs below it (the foreign keys cascade)."""
    part = await changing(repository, tenant_id, part_id)
    await repository.delete(part)
    return part
