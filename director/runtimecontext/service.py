"""Runtime contexts: registered on a runtime, changed, unregistered (leaving their formations first).

A context's writes change only its runtime's view (the context is part of ``runtime { runtimeContexts }``), so
they declare that runtime's change; an application's visibility does not depend on contexts (Compass's
``applicationsForRuntime`` reads the runtime's own formations only).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from director.formation.inputs import FormationObjectType
from director.formation.service import formation as formation_service
from director.label.repository import LabelledKind, LabelRepository
from director.models import Label, RuntimeContext
from director.models.runtime_context import KEY_MAX_LENGTH, VALUE_MAX_LENGTH
from director.polling.invalidation import changes
from director.runtime.repository import RuntimeRepository
from director.runtimecontext.inputs import RuntimeContextInput
from director.runtimecontext.repository import RuntimeContextRepository
from director.tenantaccess.repository import TenantAccessRepository
from director.validation import optional_text
from kernel.errors import ForbiddenError, InvalidInputError
from kernel.principal import ClientPrincipal, Principal

_KEY = re.compile(r"^[a-zA-Z0-9_]+$")


def _apply(context: RuntimeContext, data: RuntimeContextInput) -> None:
    """Compass's ``RuntimeContextInput.Validate``: a key of 1 to 512 letters, digits or _; a value of up to 512."""
    if len(data.key) > KEY_MAX_LENGTH or not _KEY.match(data.key):
        raise InvalidInputError(f"key must be 1 to {KEY_MAX_LENGTH} letters, digits or _, got {data.key[:100]!r}")
    context.key = data.key
    context.value = optional_text(data.value, "value", max_length=VALUE_MAX_LENGTH) or ""


class RuntimeContextService:
    async def by_runtimes(
        self, session: AsyncSession, tenant_id: str, runtime_ids: Sequence[str]
    ) -> dict[str, list[RuntimeContext]]:
        """The contexts of many runtimes in one statement, for DataLoaders."""
        return await RuntimeContextRepository(session).by_runtimes(tenant_id, runtime_ids)

    async def labels_by_contexts(
        self, session: AsyncSession, tenant_id: str, context_ids: Sequence[str]
    ) -> dict[str, list[Label]]:
        return await LabelRepository(session).for_owners(tenant_id, LabelledKind.RUNTIME_CONTEXT, context_ids)

    async def _own(self, session: AsyncSession, tenant_id: str, context_id: str, caller: Principal) -> RuntimeContext:
        """The context, if the caller may change it: a runtime's certificate only its own runtime's (refused
        alike whether another's exists or not). Its runtime never changes: reading it before the declaration is
        safe."""
        repository = RuntimeContextRepository(session)
        if isinstance(caller, ClientPrincipal):
            context = await repository.get(tenant_id, context_id)
            if context is None or context.runtime_id != caller.identity.object_id:
                raise ForbiddenError("a runtime's certificate may change only its own runtime's contexts")
            return context
        return await repository.get_or_raise(tenant_id, context_id)

    async def register(
        self, session: AsyncSession, tenant_id: str, runtime_id: str, data: RuntimeContextInput
    ) -> RuntimeContext:
        await changes(session).runtime(runtime_id)
        await RuntimeRepository(session).get_or_raise(tenant_id, runtime_id)
        return await self.add(session, tenant_id, runtime_id, data)

    async def add(
        self, session: AsyncSession, tenant_id: str, runtime_id: str, data: RuntimeContextInput
    ) -> RuntimeContext:
        """A context of ``tenant_id`` on a runtime the caller found and declared the change of: a subscription's
        context is the consumer's, on the provider's runtime (which the consumer may read, not change)."""
        context = RuntimeContext(tenant_id=tenant_id, runtime_id=runtime_id)
        _apply(context, data)
        return await RuntimeContextRepository(session).add(context)

    async def update(
        self, session: AsyncSession, tenant_id: str, context_id: str, data: RuntimeContextInput, *, caller: Principal
    ) -> RuntimeContext:
        context = await self._own(session, tenant_id, context_id, caller)
        await changes(session).runtime(context.runtime_id)
        _apply(context, data)
        await session.flush()
        return context

    async def unregister(
        self, session: AsyncSession, tenant_id: str, context_id: str, *, caller: Principal
    ) -> RuntimeContext:
        """Unassigns the context from each of its formations, as Compass does, then deletes it."""
        context = await self._own(session, tenant_id, context_id, caller)
        await changes(session).runtime(context.runtime_id, formations=True)
        await TenantAccessRepository(session).delete_of("RUNTIME_CONTEXT", context.id)
        await self._remove(session, tenant_id, context)
        return context

    async def remove_all(self, session: AsyncSession, tenant_id: str, runtime_id: str) -> None:
        """Part of unregistering the runtime (which declared the change): its contexts leave their formations
        first, as in Compass, so that no formation assignment names a deleted context."""
        contexts = await RuntimeContextRepository(session).by_runtimes(tenant_id, [runtime_id])
        for context in contexts.get(runtime_id, []):
            await self._remove(session, tenant_id, context)

    async def _remove(self, session: AsyncSession, tenant_id: str, context: RuntimeContext) -> None:
        for formation in await formation_service.for_object(session, tenant_id, context.id):
            await formation_service.unassign(
                session, tenant_id, FormationObjectType.RUNTIME_CONTEXT, context.id, formation.name
            )
        await RuntimeContextRepository(session).delete(context)


runtime_context = RuntimeContextService()
