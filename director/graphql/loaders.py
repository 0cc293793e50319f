"""Per-request DataLoaders: every nested list is one statement per level, however many parents there are.

Each loader batches the keys of one event-loop tick into one call of a service's batch read (a dict by key).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession
from strawberry.dataloader import DataLoader

from director.bundle.service import bundle as bundle_service
from director.eventing.service import eventing as eventing_service
from director.instanceauth.service import bundle_instance_auth as instance_auth_service
from director.label.service import label as label_service
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
from director.runtime.service import runtime as runtime_service
from director.systemauth.service import system_auth as system_auth_service
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
        self.instance_auths_by_bundle: DataLoader[str, list[BundleInstanceAuth]] = _children(
            context, instance_auth_service.by_bundles
        )
        self.webhooks_by_application: DataLoader[str, list[Webhook]] = _children(context, webhook_service.by_applications)
        self.webhooks_by_runtime: DataLoader[str, list[Webhook]] = _children(context, webhook_service.by_runtimes)
        self.auths_by_application: DataLoader[str, list[SystemAuth]] = _children(
            context, system_auth_service.by_applications
        )
        self.auths_by_runtime: DataLoader[str, list[SystemAuth]] = _children(context, system_auth_service.by_runtimes)
        self.eventing_url_by_application: DataLoader[str, str] = _eventing_urls(context)
