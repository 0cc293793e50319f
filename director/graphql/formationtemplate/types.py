from __future__ import annotations

import strawberry
from strawberry import Info

from director import models
from director.graphql.application.types import Webhook
from director.graphql.enums import ArtifactType
from director.graphql.formationconstraint.types import FormationConstraint
from director.graphql.inputs import WebhookInput
from director.graphql.pagination import Page
from director.graphql.permissions import sanitized
from director.graphql.scalars import AnyScalar, Labels, Timestamp, maybe
from kernel.principal import Scope


@strawberry.input(description="A formation template: the application and runtime types its formations admit.")
class FormationTemplateUpdateInput:
    name: str
    application_types: list[str]
    runtime_types: list[str] | None = None
    runtime_type_display_name: str | None = None
    runtime_artifact_kind: ArtifactType | None = None
    leading_product_ids: list[str] | None = strawberry.field(default=None, name="leadingProductIDs")
    supports_reset: bool | None = None
    discovery_consumers: list[str] | None = None


@strawberry.input(description="A new formation template; runtime types, display name and artifact kind go together.")
class FormationTemplateRegisterInput(FormationTemplateUpdateInput):
    webhooks: list[WebhookInput] | None = None
    labels: Labels | None = None


@strawberry.input(description="A label to set: key of letters, digits and underscores, any JSON value.")
class LabelInput:
    key: str
    value: AnyScalar


@strawberry.type(description="A formation type: which application and runtime types its formations admit.")
class FormationTemplate:
    id: strawberry.ID
    name: str
    application_types: list[str]
    runtime_types: list[str] | None
    runtime_type_display_name: str | None
    runtime_artifact_kind: ArtifactType | None
    leading_product_ids: list[str] | None = strawberry.field(name="leadingProductIDs")
    supports_reset: bool
    discovery_consumers: list[str] | None
    created_at: Timestamp
    updated_at: Timestamp | None
    label_values: strawberry.Private[dict[str, object]]

    @classmethod
    def of(cls, model: models.FormationTemplate) -> FormationTemplate:
        return cls(
            id=strawberry.ID(model.id),
            name=model.name,
            application_types=list(model.application_types),
            runtime_types=model.runtime_types,
            runtime_type_display_name=model.runtime_type_display_name,
            runtime_artifact_kind=ArtifactType(model.runtime_artifact_kind) if model.runtime_artifact_kind else None,
            leading_product_ids=model.leading_product_ids,
            supports_reset=model.supports_reset,
            discovery_consumers=model.discovery_consumers,
            created_at=Timestamp(model.created_at),
            updated_at=maybe(Timestamp, model.updated_at),
            label_values=dict(model.labels),
        )

    @strawberry.field(description="The template's labels, or only the one with this key.")
    def labels(self, key: str | None = None) -> Labels | None:
        if key is None:
            return Labels(self.label_values)
        return Labels({key: self.label_values[key]} if key in self.label_values else {})

    @strawberry.field(
        description="The template's webhooks.", extensions=sanitized(Scope.FORMATION_TEMPLATE_WEBHOOKS_READ)
    )
    async def webhooks(self, info: Info) -> list[Webhook] | None:
        return [Webhook.of(row) for row in await info.context.loaders.webhooks_by_formation_template.load(self.id)]

    @strawberry.field(description="The constraints attached to the template.")
    async def formation_constraints(self, info: Info) -> list[FormationConstraint] | None:
        rows = await info.context.loaders.constraints_by_formation_template.load(self.id)
        return [FormationConstraint.of(row) for row in rows]


@strawberry.type(description="A page of formation templates.")
class FormationTemplatePage(Page[FormationTemplate]):
    pass
