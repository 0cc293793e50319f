"""Runtimes: registration (normalized by default), updates, labels, and unregistering with revocation."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from credentials.revocation import revoke_for_object
from director.eventing.labels import feeds_other_views
from director.label.inputs import LabelFilter
from director.label.repository import LabelledKind
from director.label.service import filtered_page
from director.label.service import label as label_service
from director.models import SCENARIOS, Label, Runtime
from director.normalization import IS_NORMALIZED_LABEL
from director.pagination import Page, PageRequest
from director.polling.invalidation import changes
from director.runtime.inputs import RuntimeRegisterInput, RuntimeUpdateInput
from director.runtime.repository import RuntimeRepository
from director.runtimecontext.service import runtime_context as runtime_context_service
from director.tenantaccess.repository import TenantAccessRepository
from director.validation import list_size, optional_text, require_name
from director.webhook.service import webhook as webhook_service
from kernel.errors import ConflictError, ForbiddenError
from kernel.models import utcnow
from kernel.principal import ClientKind, ClientPrincipal, Principal


def _refuse_formation_change(caller: Principal) -> None:
    # Joining formations would widen what the runtime sees: that is the operator's decision.
    if isinstance(caller, ClientPrincipal):
        raise ForbiddenError("a runtime cannot change its own formations; an operator assigns them")


class RuntimeService:
    async def get(self, session: AsyncSession, tenant_id: str, runtime_id: str) -> Runtime:
        return await RuntimeRepository(session).get_or_raise(tenant_id, runtime_id)

    async def page(
        self, session: AsyncSession, tenant_id: str, filters: Sequence[LabelFilter], request: PageRequest
    ) -> Page[Runtime]:
        return await filtered_page(RuntimeRepository(session), tenant_id, filters, request)

    async def by_ids(self, session: AsyncSession, tenant_id: str, ids: Sequence[str]) -> dict[str, Runtime]:
        """Many runtimes in one statement, for DataLoaders."""
        return await RuntimeRepository(session).by_ids(tenant_id, ids)

    async def _check_name_free(self, session: AsyncSession, tenant_id: str, name: str, own_id: str | None) -> None:
        existing = await RuntimeRepository(session).get_by_name(tenant_id, name)
        if existing is not None and existing.id != own_id:
            raise ConflictError(f"a runtime named {name!r} already exists")

    def _apply(self, runtime: Runtime, data: RuntimeRegisterInput | RuntimeUpdateInput) -> None:
        runtime.name = require_name(data.name, "name")
        runtime.description = optional_text(data.description, "description")
        if data.application_namespace is not None:  # Compass keeps the stored one when an update gives none
            runtime.application_namespace = optional_text(
                data.application_namespace, "applicationNamespace", max_length=256
            )
        if data.status_condition is not None and data.status_condition.value != runtime.status_condition:
            runtime.status_condition = data.status_condition.value
            runtime.status_timestamp = utcnow()

    async def register(self, session: AsyncSession, tenant_id: str, data: RuntimeRegisterInput) -> Runtime:
        await changes(session).new_runtime()
        runtime = Runtime(tenant_id=tenant_id)
        self._apply(runtime, data)
        await self._check_name_free(session, tenant_id, runtime.name, None)
        try:
            await RuntimeRepository(session).add(runtime)
        except IntegrityError:
            raise ConflictError(f"a runtime named {runtime.name!r} already exists") from None
        labels = {IS_NORMALIZED_LABEL: "true", **(data.labels or {})}
        await label_service.set_many(session, tenant_id, LabelledKind.RUNTIME, runtime.id, labels)
        for webhook in list_size(data.webhooks, "webhooks"):
            session.add(webhook_service.new(tenant_id, webhook, runtime_id=runtime.id))
        await session.flush()
        return runtime

    async def update(
        self, session: AsyncSession, tenant_id: str, runtime_id: str, data: RuntimeUpdateInput, *, caller: Principal
    ) -> Runtime:
        """A runtime's certificate may update it (its agent reports CONNECTED this way), but not its formations."""
        changes_formations = SCENARIOS in (data.labels or {})
        if changes_formations:
            _refuse_formation_change(caller)
        if any(feeds_other_views(key) for key in data.labels or {}):
            await changes(session).tenant()  # applications' eventingConfiguration in other runtimes' views
        await changes(session).runtime(runtime_id, formations=changes_formations)
        runtime = await self.get(session, tenant_id, runtime_id)
        self._apply(runtime, data)
        name = runtime.name
        await self._check_name_free(session, tenant_id, name, runtime.id)
        try:
            await session.flush()
        except IntegrityError:
            # Another request took the name since the check (PostgreSQL; SQLite serializes writers).
            raise ConflictError(f"a runtime named {name!r} already exists") from None
        await label_service.set_many(session, tenant_id, LabelledKind.RUNTIME, runtime.id, data.labels or {})
        await session.flush()
        return runtime

    async def unregister(self, session: AsyncSession, tenant_id: str, runtime_id: str, *, now: datetime) -> Runtime:
        """Deletes the runtime; its client certificates are revoked (at ``now``) in the same transaction."""
        await changes(session).runtime(runtime_id, formations=True)  # it leaves its formations
        runtime = await self.get(session, tenant_id, runtime_id)
        # In its home tenant, where its certificates are issued whoever asked for the token
        # (director.systemauth); a tenant granted it as an owner may unregister it too (director.tenantaccess).
        await revoke_for_object(session, runtime.tenant_id, ClientKind.RUNTIME, runtime_id, now=now)
        await TenantAccessRepository(session).delete_of("RUNTIME", runtime_id)
        await runtime_context_service.remove_all(session, tenant_id, runtime_id)
        await RuntimeRepository(session).delete(runtime)
        return runtime

    async def revoke_certificates(
        self, session: AsyncSession, tenant_id: str, runtime_id: str, *, now: datetime
    ) -> list[str]:
        """Revokes every client certificate of the runtime; answers the revoked serials."""
        await changes(session).runtime(runtime_id)
        runtime = await self.get(session, tenant_id, runtime_id)
        return await revoke_for_object(session, runtime.tenant_id, ClientKind.RUNTIME, runtime_id, now=now)

    async def _changing_label(
        self, session: AsyncSession, tenant_id: str, runtime_id: str, key: str, caller: Principal
    ) -> None:
        """Key ``scenarios`` assigns formations, which a runtime's own certificate may not."""
        if key == SCENARIOS:
            _refuse_formation_change(caller)
        if feeds_other_views(key):
            await changes(session).tenant()  # applications' eventingConfiguration in other runtimes' views
        await changes(session).runtime(runtime_id, formations=key == SCENARIOS)
        await self.get(session, tenant_id, runtime_id)

    async def set_label(
        self, session: AsyncSession, tenant_id: str, runtime_id: str, key: str, value: Any, *, caller: Principal
    ) -> Label:
        await self._changing_label(session, tenant_id, runtime_id, key, caller)
        return await label_service.set(session, tenant_id, LabelledKind.RUNTIME, runtime_id, key, value)

    async def delete_label(
        self, session: AsyncSession, tenant_id: str, runtime_id: str, key: str, *, caller: Principal
    ) -> Label:
        await self._changing_label(session, tenant_id, runtime_id, key, caller)
        return await label_service.delete(session, tenant_id, LabelledKind.RUNTIME, runtime_id, key)


runtime = RuntimeService()
