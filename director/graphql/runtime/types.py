from __future__ import annotations

from datetime import timedelta
from enum import Enum

import strawberry
from strawberry import Info

from director import models
from director.eventing.service import runtime_default_url
from director.graphql.application.types import After, First, RuntimeSystemAuth, Webhook, labels_object
from director.graphql.enums import RuntimeStatusCondition
from director.graphql.eventing.types import RuntimeEventingConfiguration
from director.graphql.pagination import Page
from director.graphql.permissions import sanitized
from director.graphql.runtimecontext.types import RuntimeContext, RuntimeContextPage
from director.graphql.scalars import Labels, Timestamp
from director.graphql.watcher.types import WatchEvent
from director.pagination import PageRequest
from director.watcher.service import watch_events_page
from kernel.principal import Scope


@strawberry.type(description="Condition of a runtime and when it was set.")
class RuntimeStatus:
    condition: RuntimeStatusCondition
    timestamp: Timestamp


@strawberry.type(description="When the runtime was registered.")
class RuntimeMetadata:
    creation_timestamp: Timestamp


@strawberry.enum(description="pycompass: whether the runtime's agent polls.")
class AgentStatus(Enum):
    NEVER_SEEN = "NEVER_SEEN"
    ACTIVE = "ACTIVE"
    SILENT = "SILENT"


SILENT_AFTER_PERIODS = 5
WATCH_EVENTS_DEFAULT = 50


@strawberry.type(description="A Kubernetes cluster registered in a tenant.")
class Runtime:
    id: strawberry.ID
    name: str
    description: str | None
    status: RuntimeStatus
    metadata: RuntimeMetadata
    last_seen: Timestamp | None = strawberry.field(
        description="pycompass: when the runtime's agent last polled (written every few seconds)."
    )
    application_namespace: str | None

    @strawberry.field(description="pycompass: SILENT when the agent has not polled for five sync periods.")
    def agent_status(self, info: Info) -> AgentStatus:
        if self.last_seen is None:
            return AgentStatus.NEVER_SEEN
        period = timedelta(seconds=info.context.settings.agent_sync_period_seconds)
        silent = info.context.clock() - self.last_seen > SILENT_AFTER_PERIODS * period
        return AgentStatus.SILENT if silent else AgentStatus.ACTIVE

    @classmethod
    def of(cls, model: models.Runtime) -> Runtime:
        return cls(
            id=strawberry.ID(model.id),
            name=model.name,
            description=model.description,
            status=RuntimeStatus(
                condition=RuntimeStatusCondition(model.status_condition), timestamp=Timestamp(model.status_timestamp)
            ),
            metadata=RuntimeMetadata(creation_timestamp=Timestamp(model.created_at)),
            last_seen=Timestamp(model.last_seen_at) if model.last_seen_at is not None else None,
            application_namespace=model.application_namespace,
        )

    @strawberry.field(description="The runtime's labels, or only the one with this key.")
    async def labels(self, info: Info, key: str | None = None) -> Labels | None:
        return Labels(labels_object(await info.context.loaders.labels_by_runtime.load(self.id), key))

    @strawberry.field(description="The runtime's webhooks.", extensions=sanitized(Scope.RUNTIME_WEBHOOKS_READ))
    async def webhooks(self, info: Info) -> list[Webhook] | None:
        return [Webhook.of(row) for row in await info.context.loaders.webhooks_by_runtime.load(self.id)]

    @strawberry.field(description="The client ids the runtime's certificates carry.")
    async def auths(self, info: Info) -> list[RuntimeSystemAuth]:
        return [RuntimeSystemAuth.of(row) for row in await info.context.loaders.auths_by_runtime.load(self.id)]

    @strawberry.field(description="The runtime's contexts, by id.")
    async def runtime_contexts(self, info: Info, first: First = 200, after: After = None) -> RuntimeContextPage | None:
        request = PageRequest.of(first, after)
        rows = await info.context.loaders.contexts_by_runtime.load(self.id)
        return RuntimeContextPage.slice(rows, request, RuntimeContext.of)

    @strawberry.field(description="One context of the runtime, or null.")
    async def runtime_context(self, info: Info, id: strawberry.ID) -> RuntimeContext | None:
        rows = await info.context.loaders.contexts_by_runtime.load(self.id)
        return next((RuntimeContext.of(row) for row in rows if row.id == id), None)

    @strawberry.field(description='Where the event ingress of the runtime listens; defaultURL is "" until its agent says.')
    async def eventing_configuration(self, info: Info) -> RuntimeEventingConfiguration | None:
        labels = await info.context.loaders.labels_by_runtime.load(self.id)
        url = runtime_default_url(self.id, labels_object(labels, None))
        return RuntimeEventingConfiguration(default_url=url)

    @strawberry.field(
        description="pycompass: the newest changes its watcher reported, newest first; first: 1 to 200 (each runtime "
        "keeps COMPASS_WATCH_EVENTS_KEPT)."
    )
    async def watch_events(self, info: Info, first: int | None = WATCH_EVENTS_DEFAULT) -> list[WatchEvent]:
        wanted = watch_events_page(WATCH_EVENTS_DEFAULT if first is None else first)
        rows = await info.context.loaders.watch_events_by_runtime.load((self.id, wanted))
        return [WatchEvent.of(row) for row in rows]


@strawberry.type(description="A page of runtimes.")
class RuntimePage(Page[Runtime]):
    pass
