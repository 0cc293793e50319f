"""Per-request DataLoaders: every nested list is one statement per level, however many parents there are.

Each loader batches the keys of one event-loop tick into one call of a service's batch read (a dict by key).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession
from strawberry.dataloader import DataLoader

from director.apptemplate.service import application_template as application_template_service
from director.bundle.service import bundle as bundle_service
from director.eventing.service import eventing as eventing_service
from director.fetchrequest.service import fetch_request as fetch_request_service
from director.formationassignment.service import formation_assignment as formation_assignment_service
from director.formationconstraint.service import formation_constraint as formation_constraint_service
from director.instanceauth.service import bundle_instance_auth as instance_auth_service
from director.integrationdependency.service import AspectTree
from director.integrationdependency.service import integration_dependency as integration_dependency_service
from director.integrationsystem.service import integration_system as integration_system_service
from director.label.service import label as label_service
from director.models import (
    APIDefinition,
    Application,
    ApplicationTemplate,
    AssignmentOperation,
    Bundle,
    BundleInstanceAuth,
    Document,
    EventDefinition,
    FetchRequest,
    FormationAssignment,
    FormationConstraint,
    IntegrationDependency,
    Label,
    Runtime,
    RuntimeContext,
    SystemAuth,
    Webhook,
)
from director.runtime.service import runtime as runtime_service
from director.runtimecontext.service import runtime_context as runtime_context_service
from director.systemauth.service import system_auth as system_auth_service
from director.tenant.service import tenant as tenant_service
from director.watcher.models import WatchEvent
from director.watcher.service import watcher as watcher_service
from director.webhook.service import webhook as webhook_service
from kernel.transactions import run_again_on_conflict

if TYPE_CHECKING:
    from director.graphql.context import DirectorContext

V = TypeVar("V")
BatchRead = Callable[[AsyncSession, str, Sequence[str]], Awaitable[Mapping[str, V]]]


def _loader(context: DirectorContext, read: BatchRead[V], missing: Callable[[], V]) -> DataLoader[str, V]:
    """One value per key, in key order; ``missing()`` for keys the read did not find."""

    async def load(keys: Sequence[str]) -> list[V]:
        found = await context.read(read, keys)
        return [found[key] if key in found else missing() for key in keys]

    return DataLoader(load_fn=load)


def _children(context: DirectorContext, read: BatchRead[list[V]]) -> DataLoader[str, list[V]]:
    return _loader(context, read, list)


def _none() -> None:
    return None


def _eventing_urls(context: DirectorContext) -> DataLoader[str, str]:
    """Applications' default eventing URLs: one read for the batch, and one unit of work only when a default
    runtime must be labelled or unlabelled first (the first read after a formation changed), as Compass's read does."""

    async def load(keys: Sequence[str]) -> list[str]:
        found = await context.read(eventing_service.for_applications, keys)
        if pending := [key for key in keys if found[key].pending]:
            settled = await run_again_on_conflict(
                lambda: context.write(eventing_service.settle, pending),
                attempts=context.settings.transaction_attempts,
                what="eventingConfiguration",
            )
            found = {**found, **settled}
        return [found[key].default_url for key in keys]

    return DataLoader(load_fn=load)


def _watch_events(context: DirectorContext) -> DataLoader[tuple[str, int], list[WatchEvent]]:
    """Runtimes' newest watch events, keyed by runtime and how many: one read per distinct count in the batch."""

    async def load(keys: Sequence[tuple[str, int]]) -> list[list[WatchEvent]]:
        found: dict[tuple[str, int], list[WatchEvent]] = {}
        for first in sorted({first for _, first in keys}):
            runtime_ids = [runtime_id for runtime_id, wanted in keys if wanted == first]
            events = await context.read(watcher_service.events, runtime_ids, first)
            found.update({(runtime_id, first): events.get(runtime_id, []) for runtime_id in runtime_ids})
        return [found[key] for key in keys]

    return DataLoader(load_fn=load)


class Loaders:
    """Named ``XByYLoader`` in spirit: ``bundles_by_application`` loads bundles keyed by application id."""

    def __init__(self, context: DirectorContext) -> None:
        self.runtime_by_id: DataLoader[str, Runtime | None] = _loader(context, runtime_service.by_ids, _none)
        self.labels_by_application: DataLoader[str, list[Label]] = _children(context, label_service.by_applications)
        self.labels_by_runtime: DataLoader[str, list[Label]] = _children(context, label_service.by_runtimes)
        self.bundles_by_application: DataLoader[str, list[Bundle]] = _children(context, bundle_service.by_applications)
        self.api_definitions_by_bundle: DataLoader[str, list[APIDefinition]] = _children(
            context, bundle_service.api_definitions_by_bundles
        )
        self.event_definitions_by_bundle: DataLoader[str, list[EventDefinition]] = _children(
            context, bundle_service.event_definitions_by_bundles
        )
        self.documents_by_bundle: DataLoader[str, list[Document]] = _children(context, bundle_service.documents_by_bundles)
        self.fetch_request_by_api_definition: DataLoader[str, FetchRequest | None] = _loader(
            context, fetch_request_service.by_api_definitions, _none
        )
        self.fetch_request_by_event_definition: DataLoader[str, FetchRequest | None] = _loader(
            context, fetch_request_service.by_event_definitions, _none
        )
        self.fetch_request_by_document: DataLoader[str, FetchRequest | None] = _loader(
            context, fetch_request_service.by_documents, _none
        )
        self.instance_auths_by_bundle: DataLoader[str, list[BundleInstanceAuth]] = _children(
            context, instance_auth_service.by_bundles
        )
        self.webhooks_by_application: DataLoader[str, list[Webhook]] = _children(context, webhook_service.by_applications)
        self.webhooks_by_runtime: DataLoader[str, list[Webhook]] = _children(context, webhook_service.by_runtimes)
        self.auths_by_application: DataLoader[str, list[SystemAuth]] = _children(
            context, system_auth_service.by_applications
        )
        self.auths_by_runtime: DataLoader[str, list[SystemAuth]] = _children(context, system_auth_service.by_runtimes)
        self.auths_by_integration_system: DataLoader[str, list[SystemAuth]] = _children(
            context, integration_system_service.auths
        )
        self.contexts_by_runtime: DataLoader[str, list[RuntimeContext]] = _children(
            context, runtime_context_service.by_runtimes
        )
        self.watch_events_by_runtime: DataLoader[tuple[str, int], list[WatchEvent]] = _watch_events(context)
        self.labels_by_runtime_context: DataLoader[str, list[Label]] = _children(
            context, runtime_context_service.labels_by_contexts
        )
        self.eventing_url_by_application: DataLoader[str, str] = _eventing_urls(context)
        self.parents_by_tenant: DataLoader[str, list[str]] = _children(context, tenant_service.parents_of)
        self.api_definition_by_id: DataLoader[str, APIDefinition | None] = _loader(
            context, bundle_service.api_definitions_by_ids, _none
        )
        self.event_definition_by_id: DataLoader[str, EventDefinition | None] = _loader(
            context, bundle_service.event_definitions_by_ids, _none
        )
        self.integration_dependencies_by_application: DataLoader[str, list[IntegrationDependency]] = _children(
            context, integration_dependency_service.by_applications
        )
        self.aspects_by_integration_dependency: DataLoader[str, list[AspectTree]] = _children(
            context, integration_dependency_service.aspects_by_dependencies
        )
        self.labels_by_tenant: DataLoader[str, dict[str, Any]] = _loader(context, tenant_service.labels_of, dict)
        self.initialized_by_tenant: DataLoader[str, bool] = _loader(context, tenant_service.initialized, bool)
        self.application_template_by_id: DataLoader[str, ApplicationTemplate | None] = _loader(
            context, application_template_service.by_ids, _none
        )
        self.webhooks_by_application_template: DataLoader[str, list[Webhook]] = _children(
            context, webhook_service.by_application_templates
        )
        self.assignments_by_formation: DataLoader[str, list[FormationAssignment]] = _children(
            context, formation_assignment_service.by_formations
        )
        self.operations_by_assignment: DataLoader[str, list[AssignmentOperation]] = _children(
            context, formation_assignment_service.operations_by_assignments
        )
        self.participant_by_id: DataLoader[str, Application | Runtime | RuntimeContext | None] = _loader(
            context, formation_assignment_service.participants_by_ids, _none
        )
        self.constraints_by_formation_template: DataLoader[str, list[FormationConstraint]] = _children(
            context, formation_constraint_service.for_templates
        )
        self.webhooks_by_formation_template: DataLoader[str, list[Webhook]] = _children(
            context, webhook_service.by_formation_templates
        )
