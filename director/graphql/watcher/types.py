"""pycompass's Runtime Watcher in the Director: watchers (Kyma's ``Watcher`` resources) and watch events."""

from __future__ import annotations

from enum import Enum

import strawberry

from director.graphql.scalars import Labels, Timestamp
from director.watcher import inputs, models


@strawberry.enum(description="What of a watched object's update is reported: its spec, or its status subresource.")
class WatchedField(Enum):
    SPEC = "SPEC"
    STATUS = "STATUS"

    @property
    def plain(self) -> inputs.WatchedField:
        return inputs.WatchedField(self.value.lower())


@strawberry.type(description='A kind of Kubernetes resource: its API group ("" for the core group), version and '
                 "plural resource name.")  # fmt: skip
class ResourceToWatch:
    group: str
    version: str
    resource: str


@strawberry.type(
    description="pycompass: what a runtime's admission webhook reports to the control plane, and for which module "
    "(Kyma's Watcher). Global watchers (built in, or the platform operator's) apply to every tenant."
)
class Watcher:
    id: strawberry.ID
    name: str
    module: str = strawberry.field(description="The module whose consumers get the events (/v2/<module>/event).")
    resource_to_watch: ResourceToWatch
    labels_to_watch: Labels | None = strawberry.field(
        description="Only objects with all these labels are watched (the webhook's object selector)."
    )
    field: WatchedField
    global_: bool = strawberry.field(name="global", description="Built in or the platform operator's: read only.")

    @classmethod
    def of(cls, model: models.Watcher) -> Watcher:
        return cls(
            id=strawberry.ID(model.id),
            name=model.name,
            module=model.module,
            resource_to_watch=ResourceToWatch(group=model.group, version=model.version, resource=model.resource),
            labels_to_watch=Labels(model.labels) if model.labels is not None else None,
            field=WatchedField(model.field.upper()),
            global_=model.tenant_id is None,
        )


@strawberry.input(description="A kind of Kubernetes resource to watch.")
class ResourceToWatchInput:
    group: str = strawberry.field(description='The API group; "" for the core group.')
    version: str
    resource: str = strawberry.field(description="The plural resource name, e.g. applications.")


@strawberry.input(description="A tenant's watcher.")
class WatcherInput:
    name: str = strawberry.field(description="A DNS label, unique in the tenant.")
    module: str = strawberry.field(description="A DNS label: the module whose consumers get the events.")
    resource_to_watch: ResourceToWatchInput
    labels_to_watch: Labels | None = strawberry.field(default=None, description="Label keys to string values.")
    field: WatchedField | None = strawberry.field(
        default=WatchedField.SPEC, description="SPEC unless the status is watched."
    )

    def to_plain(self) -> inputs.WatcherInput:
        labels = self.labels_to_watch
        return inputs.WatcherInput(
            name=self.name,
            module=self.module,
            group=self.resource_to_watch.group,
            version=self.resource_to_watch.version,
            resource=self.resource_to_watch.resource,
            labels=dict(labels) if isinstance(labels, dict) else None,
            field=(self.field or WatchedField.SPEC).plain,
        )


@strawberry.type(description="The object a watch event is about.")
class WatchedObject:
    namespace: str = strawberry.field(description='"" for a cluster-scoped object.')
    name: str


@strawberry.type(description="A Kubernetes group, version and kind.")
class GroupVersionKind:
    group: str
    version: str
    kind: str


@strawberry.type(description="pycompass: a change a runtime's watcher reported.")
class WatchEvent:
    module: str
    watched: WatchedObject
    watched_gvk: GroupVersionKind
    received_at: Timestamp = strawberry.field(description="When the control plane stored it.")

    @classmethod
    def of(cls, model: models.WatchEvent) -> WatchEvent:
        return cls(
            module=model.module,
            watched=WatchedObject(namespace=model.namespace, name=model.name),
            watched_gvk=GroupVersionKind(group=model.group, version=model.version, kind=model.kind),
            received_at=Timestamp(model.received_at),
        )
