"""Applications: registration with the whole tree, updates, labels and the runtime's view of them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from credentials.revocation import revoke_for_object
from director.application import parts
from director.application.inputs import ApplicationRegisterInput, ApplicationUpdateInput
from director.application.repository import ApplicationRepository
from director.bundle.service import bundle as bundle_service
from director.label.inputs import LabelFilter
from director.label.repository import LabelledKind
from director.label.service import filtered_page
from director.label.service import label as label_service
from director.models import SCENARIOS, Application, Label, Runtime
from director.normalization import normalize_name
from director.pagination import Page, PageRequest
from director.polling.invalidation import changes
from director.validation import list_size, optional_text, optional_url, require_name
from director.webhook.service import webhook as webhook_service
from kernel.errors import ConflictError, NotFoundError
from kernel.models import utcnow
from kernel.principal import ClientKind


class ApplicationService:
    async def find(self, session: AsyncSession, tenant_id: str, application_id: str) -> Application | None:
        return await ApplicationRepository(session).get(tenant_id, application_id)

    async def find_by_normalized_name(
        self, session: AsyncSession, tenant_id: str, normalized_name: str
    ) -> Application | None:
        """The application runtimes and the REST API know as ``normalized_name`` (Compass's ``name`` label)."""
        return await ApplicationRepository(session).get_by_normalized_name(tenant_id, normalized_name)

    async def changing(self, session: AsyncSession, tenant_id: str, application_id: str) -> Application:
        """Declares a write within the application's tree before the caller reads what it will rewrite (a label
        it changes by reading it first): the declaration takes the tenant's row lock, which every other writer of
        the tree takes first too, so none changes it between that read and this transaction's commit."""
        return await parts.changing(ApplicationRepository(session), tenant_id, application_id)

    async def page(
        self, session: AsyncSession, tenant_id: str, filters: Sequence[LabelFilter], request: PageRequest
    ) -> Page[Application]:
        return await filtered_page(ApplicationRepository(session), tenant_id, filters, request)

    async def for_runtime(
        self,
        session: AsyncSession,
        runtime_id: str,
        runtime: Runtime | None,
        runtime_labels: Sequence[Label],
        request: PageRequest,
    ) -> Page[Application]:
        """The runtime and its labels come from the request's loaders, which `runtime(id)` shares."""
        if runtime is None:
            raise NotFoundError(f"runtime {runtime_id} does not exist")
        scenarios = next((label.value for label in runtime_labels if label.key == SCENARIOS), None)
        if not isinstance(scenarios, list) or not scenarios:
            return Page([], 0, request.offset)
        repository = ApplicationRepository(session)
        rows, total = await repository.page(
            repository.in_scenarios(runtime.tenant_id, scenarios), limit=request.limit, offset=request.offset
        )
        return Page(rows, total, request.offset)

    async def register(self, session: AsyncSession, tenant_id: str, data: ApplicationRegisterInput) -> Application:
        await changes(session).tenant()
        name = require_name(data.name, "name")
        normalized_name = normalize_name(name)
        repository = ApplicationRepository(session)
        existing = await repository.get_by_normalized_name(tenant_id, normalized_name)
        if existing is not None:
            raise _name_taken(name, normalized_name, existing.name)
        application = Application(tenant_id=tenant_id, name=name, normalized_name=normalized_name)
        self._apply(application, data)
        try:
            await repository.add(application)
        except IntegrityError:
            # A concurrent registration of the same or a colliding name committed first.
            raise _name_taken(name, normalized_name, None) from None
        await label_service.set_many(session, tenant_id, LabelledKind.APPLICATION, application.id, data.labels or {})
        for webhook in list_size(data.webhooks, "webhooks"):
            session.add(webhook_service.new(tenant_id, webhook, application_id=application.id))
        for bundle in list_size(data.bundles, "bundles"):
            await bundle_service.create_tree(session, tenant_id, application.id, bundle)
        await session.flush()
        return application

    def _apply(self, application: Application, data: ApplicationRegisterInput | ApplicationUpdateInput) -> None:
        application.provider_name = optional_text(data.provider_name, "providerName", max_length=256)
        application.description = optional_text(data.description, "description")
        application.healthcheck_url = optional_url(data.health_check_url, "healthCheckURL")
        application.base_url = optional_url(data.base_url, "baseUrl")
        application.integration_system_id = optional_text(
            data.integration_system_id, "integrationSystemID", max_length=36
        )
        if data.status_condition is not None and data.status_condition.value != application.status_condition:
            application.status_condition = data.status_condition.value
            application.status_timestamp = utcnow()

    async def update(
        self, session: AsyncSession, tenant_id: str, application_id: str, data: ApplicationUpdateInput
    ) -> Application:
        application = await parts.changing(ApplicationRepository(session), tenant_id, application_id)
        self._apply(application, data)
        application.updated_at = utcnow()
        await session.flush()
        return application

    async def unregister(
        self, session: AsyncSession, tenant_id: str, application_id: str, *, now: datetime
    ) -> Application:
        """Its client certificates are revoked (at ``now``) with it: they would outlive it otherwise."""
        repository = ApplicationRepository(session)
        application = await parts.changing(repository, tenant_id, application_id)
        await revoke_for_object(session, tenant_id, ClientKind.APPLICATION, application_id, now=now)
        await repository.delete(application)
        return application

    async def revoke_certificates(
        self, session: AsyncSession, tenant_id: str, application_id: str, *, now: datetime
    ) -> list[str]:
        """Revokes every client certificate of the application at ``now``; answers the revoked serials."""
        await parts.changing(ApplicationRepository(session), tenant_id, application_id)
        return await revoke_for_object(session, tenant_id, ClientKind.APPLICATION, application_id, now=now)

    async def set_label(
        self, session: AsyncSession, tenant_id: str, application_id: str, key: str, value: Any
    ) -> Label:
        """Key ``scenarios`` puts the application in the formations it names."""
        scenarios = value if key == SCENARIOS and isinstance(value, list) else []
        joining = [name for name in scenarios if isinstance(name, str)]
        await parts.changing(ApplicationRepository(session), tenant_id, application_id, joining=joining)
        return await label_service.set(session, tenant_id, LabelledKind.APPLICATION, application_id, key, value)

    async def delete_label(self, session: AsyncSession, tenant_id: str, application_id: str, key: str) -> Label:
        await parts.changing(ApplicationRepository(session), tenant_id, application_id)
        return await label_service.delete(session, tenant_id, LabelledKind.APPLICATION, application_id, key)


def _name_taken(name: str, normalized_name: str, existing: str | None) -> ConflictError:
    """Runtimes know applications by normalized name: a second one with it would replace the first there."""
    if existing == name:
        return ConflictError(f"an application named {name!r} already exists")
    if existing is None:
        taken = f"an application named {name!r}, or one runtimes would also know as {normalized_name!r},"
    else:
        taken = f"the application {existing!r}, which runtimes know as {normalized_name!r} like {name!r},"
    return ConflictError(f"{taken} already exists in this tenant; choose a name that normalizes differently")


application = ApplicationService()
