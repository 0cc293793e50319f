"""Applications: registration with the whole tree, updates, labels and the runtime's view of them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from credentials.revocation import revoke_for_object
from director.application import parts
from director.application.inputs import (
    ApplicationRegisterInput,
    ApplicationStatusCondition,
    ApplicationUpdateInput,
)
from director.application.repository import ApplicationRepository
from director.apptemplate.repository import ApplicationTemplateRepository
from director.bundle.service import bundle as bundle_service
from director.formation.service import formation as formation_service
from director.integrationsystem.service import integration_system as integration_system_service
from director.label.inputs import LabelFilter
from director.label.repository import LabelledKind
from director.label.service import filtered_page
from director.label.service import label as label_service
from director.models import SCENARIOS, Application, Label, Runtime
from director.normalization import normalize_name
from director.pagination import Page, PageRequest
from director.polling.invalidation import changes
from director.runtime.repository import RuntimeRepository
from director.tenantaccess.repository import TenantAccessRepository
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

    async def find_by_system_number(
        self, session: AsyncSession, tenant_id: str, system_number: str
    ) -> Application | None:
        return await ApplicationRepository(session).get_by_system_number(tenant_id, system_number)

    async def page_by_local_tenant_id(
        self,
        session: AsyncSession,
        tenant_id: str,
        local_tenant_id: str,
        filters: Sequence[LabelFilter],
        request: PageRequest,
    ) -> Page[Application]:
        repository = ApplicationRepository(session)
        columns = {"local_tenant_id": local_tenant_id}
        return await filtered_page(repository, tenant_id, filters, request, columns=columns)

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
        await integration_system_service.require(session, application.integration_system_id)
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
        # An update without these keeps the stored values, as in Compass.
        if data.application_namespace is not None:
            application.application_namespace = optional_text(
                data.application_namespace, "applicationNamespace", max_length=256
            )
        if data.local_tenant_id is not None:
            application.local_tenant_id = optional_text(data.local_tenant_id, "localTenantID", max_length=256)

    async def update(
        self, session: AsyncSession, tenant_id: str, application_id: str, data: ApplicationUpdateInput
    ) -> Application:
        application = await parts.changing(ApplicationRepository(session), tenant_id, application_id)
        self._apply(application, data)
        await integration_system_service.require(session, application.integration_system_id)
        application.updated_at = utcnow()
        await session.flush()
        return application

    async def unregister(
        self, session: AsyncSession, tenant_id: str, application_id: str, *, now: datetime
    ) -> Application:
        """Its client certificates are revoked (at ``now``) with it: they would outlive it otherwise."""
        repository = ApplicationRepository(session)
        application = await parts.changing(repository, tenant_id, application_id)
        # In its home tenant, where its certificates are issued whoever asked for the token
        # (director.systemauth); a tenant granted it as an owner may unregister it too (director.tenantaccess).
        await revoke_for_object(session, application.tenant_id, ClientKind.APPLICATION, application_id, now=now)
        await TenantAccessRepository(session).delete_of("APPLICATION", application_id)
        await repository.delete(application)
        return application

    async def unpair(self, session: AsyncSession, tenant_id: str, application_id: str, *, now: datetime) -> Application:
        """Compass's synchronous unpair: refused while a runtime shares a formation with the application; its
        status becomes INITIAL, so that it may pair again (and be merged)."""
        application = await parts.changing(ApplicationRepository(session), tenant_id, application_id)
        formations = await formation_service.scenarios_of(session, tenant_id, LabelledKind.APPLICATION, application_id)
        runtimes = await RuntimeRepository(session).names_in_formations(tenant_id, formations) if formations else []
        if runtimes:
            raise ConflictError(
                f"System {application.name} is still used and cannot be deleted. Unassign the system from the "
                f"following formations first: {', '.join(formations)}. Then, unassign the system from the "
                f"following runtimes, too: {', '.join(runtimes)}"
            )
        application.status_condition = ApplicationStatusCondition.INITIAL.value
        application.status_timestamp = now
        application.updated_at = now
        await session.flush()
        return application

    async def merge(
        self,
        session: AsyncSession,
        tenant_id: str,
        destination_id: str,
        source_id: str,
        *,
        now: datetime,
        distinguish_label_key: str = "",
    ) -> Application:
        """Compass's merge of two registrations of one system (one of the same template and base URL, the source
        still INITIAL and in no formation): the destination takes every field it lacks and every label key it
        lacks from the source (``managed`` is "true" if either's is, its formations stay its own), and the
        source is unregistered, its client certificates revoked."""
        repository = ApplicationRepository(session)
        source = await parts.changing(repository, tenant_id, source_id)
        source_formations = await formation_service.scenarios_of(session, tenant_id, LabelledKind.APPLICATION, source_id)
        if source_formations:
            raise ConflictError(f"System {source.name} is part of the following formations : {', '.join(source_formations)}")
        destination = await parts.changing(repository, tenant_id, destination_id)
        _refuse_merge(destination, source)
        template = await ApplicationTemplateRepository(session).get(source.application_template_id or "")
        if distinguish_label_key and template is not None and distinguish_label_key in template.labels:
            raise ConflictError(f"app template: {template.id} has label {distinguish_label_key}")
        for column in _MERGED_COLUMNS:
            if not getattr(destination, column):
                setattr(destination, column, getattr(source, column))
        labels = await label_service.by_applications(session, tenant_id, [destination_id, source_id])
        merged = _merged_labels(labels.get(destination_id, []), labels.get(source_id, []))
        await revoke_for_object(session, source.tenant_id, ClientKind.APPLICATION, source_id, now=now)
        await TenantAccessRepository(session).delete_of("APPLICATION", source_id)
        await repository.delete(source)
        destination.updated_at = now
        await label_service.set_many(session, tenant_id, LabelledKind.APPLICATION, destination_id, merged)
        await session.flush()
        return destination

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


# The fields a merge fills in (Compass's mergo.Merge: a destination's empty field takes the source's value).
_MERGED_COLUMNS = (
    "provider_name",
    "description",
    "healthcheck_url",
    "integration_system_id",
    "system_number",
    "local_tenant_id",
    "base_url",
    "application_namespace",
    "system_status",
)
MANAGED_LABEL = "managed"


def _refuse_merge(destination: Application, source: Application) -> None:
    """Compass's refusals, with its messages: only registrations of one system, not yet paired, are merged."""
    source_url = (source.base_url or "").removesuffix("/")
    destination_url = (destination.base_url or "").removesuffix("/")
    if not source_url or not destination_url or source_url != destination_url:
        raise ConflictError(
            f"BaseURL for applications {destination.id} and {source.id} are not the same. Destination app BaseURL: "
            f"{destination_url}. Source app BaseURL: {source_url}"
        )
    source_template = source.application_template_id or ""
    destination_template = destination.application_template_id or ""
    if not source_template or source_template != destination_template:
        raise ConflictError(
            f"Application templates are not the same. Destination app template: {destination_template}. "
            f"Source app template: {source_template}"
        )
    if source.status_condition != ApplicationStatusCondition.INITIAL.value:
        raise ConflictError(f"Cannot merge application with id {source.id}, because it is in a CONNECTED status")


def _merged_labels(destination: Sequence[Label], source: Sequence[Label]) -> dict[str, Any]:
    """The destination's labels, plus the source's keys it lacks; the destination keeps its own formations."""
    sources = _values(source)
    merged = {key: value for key, value in sources.items() if key != SCENARIOS} | _values(destination)
    if any(str(labels.get(MANAGED_LABEL)).lower() == "true" for labels in (merged, sources)):
        merged[MANAGED_LABEL] = "true"
    return merged


def _values(labels: Sequence[Label]) -> dict[str, Any]:
    return {label.key: label.value for label in labels}


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
