"""Writes to one row of an application's tree (the application, its bundles, their definitions, documents and
instance auths, its webhooks and system auths): each declares the change of the application the row belongs to
before it reads the row, so its locks are taken in order (``director.polling.invalidation``)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

from director.polling.invalidation import changes
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
