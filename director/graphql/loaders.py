"""Per-request DataLoaders: every nested list is one statement per level, however many parents there are."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from strawberry.dataloader import DataLoader

from credentials.systemauth.repository import SystemAuthRepository
from director.bundle.repository import (
    APIDefinitionRepository,
    BundleRepository,
    DocumentRepository,
    EventDefinitionRepository,
)
from director.instanceauth.repository import BundleInstanceAuthRepository
from director.label.repository import LabelledKind, LabelRepository
from director.models import (
    APIDefinition,
    Bundle,
    BundleInstanceAuth,
    Document,
    EventDefinition,
    Label,
    Runtime,
    SystemAuth,
    Webhook,
)
from director.runtime.repository import RuntimeRepository
from director.webhook.repository import WebhookRepository
from kernel.repository import TenantScopedRepository

if TYPE_CHECKING:
    from director.graphql.context import DirectorContext


def _children(
    context: DirectorContext, repository: type[TenantScopedRepository[Any]], column: str
) -> DataLoader[str, list[Any]]:
    async def load(parent_ids: Sequence[str]) -> list[list[Any]]:
        async with context.reading() as session:
            grouped = await repository(session).grouped_by(context.tenant_id, column, parent_ids)
        return [grouped.get(parent_id, []) for parent_id in parent_ids]

    return DataLoader(load_fn=load)


def _labels(context: DirectorContext, kind: LabelledKind) -> DataLoader[str, list[Label]]:
    async def load(owner_ids: Sequence[str]) -> list[list[Label]]:
        async with context.reading() as session:
            grouped = await LabelRepository(session).for_owners(context.tenant_id, kind, owner_ids)
        return [grouped.get(owner_id, []) for owner_id in owner_ids]

    return DataLoader(load_fn=load)


def _by_id(context: DirectorContext, repository: type[TenantScopedRepository[Any]]) -> DataLoader[str, Any]:
    async def load(ids: Sequence[str]) -> list[Any]:
        async with context.reading() as session:
            found = await repository(session).by_ids(context.tenant_id, ids)
        return [found.get(object_id) for object_id in ids]

    return DataLoader(load_fn=load)


class Loaders:
    """Named ``XByYLoader`` in spirit: ``bundles_by_application`` loads bundles keyed by application id."""

    def __init__(self, context: DirectorContext) -> None:
        self.runtime_by_id: DataLoader[str, Runtime | None] = _by_id(context, RuntimeRepository)
        self.labels_by_application = _labels(context, LabelledKind.APPLICATION)
        self.labels_by_runtime = _labels(context, LabelledKind.RUNTIME)
        self.bundles_by_application: DataLoader[str, list[Bundle]] = _children(
            context, BundleRepository, "application_id"
        )
        self.api_definitions_by_bundle: DataLoader[str, list[APIDefinition]] = _children(
            context, APIDefinitionRepository, "bundle_id"
        )
        self.event_definitions_by_bundle: DataLoader[str, list[EventDefinition]] = _children(
            context, EventDefinitionRepository, "bundle_id"
        )
        self.documents_by_bundle: DataLoader[str, list[Document]] = _children(context, DocumentRepository, "bundle_id")
        self.instance_auths_by_bundle: DataLoader[str, list[BundleInstanceAuth]] = _children(
            context, BundleInstanceAuthRepository, "bundle_id"
        )
        self.webhooks_by_application: DataLoader[str, list[Webhook]] = _children(
            context, WebhookRepository, "application_id"
        )
        self.webhooks_by_runtime: DataLoader[str, list[Webhook]] = _children(context, WebhookRepository, "runtime_id")
        self.auths_by_application: DataLoader[str, list[SystemAuth]] = _children(
            context, SystemAuthRepository, "application_id"
        )
        self.auths_by_runtime: DataLoader[str, list[SystemAuth]] = _children(context, SystemAuthRepository, "runtime_id")


