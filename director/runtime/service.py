"""Runtimes: registration (normalized by default), updates and labels."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from director.graphql.inputs import LabelFilter, RuntimeRegisterInput, RuntimeUpdateInput
from director.label.filters import parse_label_filter
from director.label.repository import LabelledKind
from director.label.service import label as label_service
from director.models import Label, Runtime
from director.normalization import IS_NORMALIZED_LABEL
from director.pagination import Page, PageRequest
from director.runtime.repository import RuntimeRepository
from director.validation import list_size, optional_text, require_name
from director.webhook.service import webhook as webhook_service
from kernel.errors import ConflictError, NotFoundError
from kernel.models import utcnow


class RuntimeService:
    async def get(self, session: AsyncSession, tenant_id: str, runtime_id: str) -> Runtime:
        runtime = await RuntimeRepository(session).get(tenant_id, runtime_id)
        if runtime is None:
            raise NotFoundError(f"runtime {runtime_id} does not exist")
        return runtime

    async def page(
        self, session: AsyncSession, tenant_id: str, filters: Sequence[LabelFilter], request: PageRequest
    ) -> Page[Runtime]:
        conditions = [parse_label_filter(item.key, item.query) for item in list_size(list(filters), "filter")]
        repository = RuntimeRepository(session)
        rows, total = await repository.page(
            repository.filtered(tenant_id, conditions), limit=request.limit, offset=request.offset
        )
        return Page(rows, total, request.offset)

    async def _check_name_free(self, session: AsyncSession, tenant_id: str, name: str, own_id: str | None) -> None:
        existing = await RuntimeRepository(session).get_by_name(tenant_id, name)
        if existing is not None and existing.id != own_id:
            raise ConflictError(f"a runtime named {name!r} already exists")

    def _apply(self, runtime: Runtime, data: RuntimeRegisterInput | RuntimeUpdateInput) -> None:
        runtime.name = require_name(data.name, "name")
        runtime.description = optional_text(data.description, "description")
        if data.status_condition is not None and data.status_condition.value != runtime.status_condition:
            runtime.status_condition = data.status_condition.value
            runtime.status_timestamp = utcnow()

    async def register(self, session: AsyncSession, tenant_id: str, data: RuntimeRegisterInput) -> Runtime:
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

    async def update(self, session: AsyncSession, tenant_id: str, runtime_id: str, data: RuntimeUpdateInput) -> Runtime:
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

    async def unregister(self, session: AsyncSession, tenant_id: str, runtime_id: str) -> Runtime:
        runtime = await self.get(session, tenant_id, runtime_id)
        await RuntimeRepository(session).delete(runtime)
        return runtime

    async def set_label(self, session: AsyncSession, tenant_id: str, runtime_id: str, key: str, value: Any) -> Label:
        await self.get(session, tenant_id, runtime_id)
        return await label_service.set(session, tenant_id, LabelledKind.RUNTIME, runtime_id, key, value)

    async def delete_label(self, session: AsyncSession, tenant_id: str, runtime_id: str, key: str) -> Label:
        await self.get(session, tenant_id, runtime_id)
        return await label_service.delete(session, tenant_id, LabelledKind.RUNTIME, runtime_id, key)


runtime = RuntimeService()
