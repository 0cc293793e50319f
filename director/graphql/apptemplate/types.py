"""ApplicationTemplate and its page: Compass's shapes; webhooks come through a DataLoader."""

from __future__ import annotations

import json
from enum import Enum
from typing import Any

import strawberry
from graphql import (
    GraphQLInputType,
    get_nullable_type,
    is_enum_type,
    is_input_object_type,
    is_list_type,
)
from strawberry import Info

from director import models
from director.graphql.application.types import Webhook
from director.graphql.pagination import Page
from director.graphql.permissions import sanitized
from director.graphql.scalars import Labels, Timestamp
from kernel.principal import Scope


@strawberry.enum(description="Who may use a template: everyone (Compass knows no other level).")
class ApplicationTemplateAccessLevel(Enum):
    GLOBAL = "GLOBAL"


@strawberry.type(description="A value a template's user fills in: {{name}} in the application input.")
class PlaceholderDefinition:
    name: str
    description: str | None
    json_path: str | None = strawberry.field(description="Where placeholdersPayload holds the value.")
    optional: bool | None

    @classmethod
    def of(cls, record: dict[str, Any]) -> PlaceholderDefinition:
        return cls(
            name=record["name"],
            description=record.get("description"),
            json_path=record.get("jsonPath"),
            optional=record.get("optional"),
        )


def _json_literal(value: Any) -> str:
    """A JSON value (a scalar's value, such as a label's) written as a GraphQL literal, keys sorted (as Go ranges
    over a map, and as neither database keeps a JSON object's order)."""
    if isinstance(value, dict):
        return "{" + ", ".join(f"{key}: {_json_literal(value[key])}" for key in sorted(value)) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_json_literal(item) for item in value) + "]"
    return json.dumps(value, ensure_ascii=False)


def input_type(info: Info, name: str) -> GraphQLInputType:
    """The schema's input type ``name`` as graphql-core knows it (to read, write and check JSON of that shape)."""
    found = info.schema._schema.get_type(name)  # strawberry offers graphql-core's schema only as _schema
    if not is_input_object_type(found):
        raise TypeError(f"{name} is no input type of the schema")
    return found


def graphql_literal(value: Any, type_: GraphQLInputType) -> str:
    """``value`` (JSON with GraphQL field names) as the GraphQL input value of ``type_``: fields in the type's
    order, enum values bare, as Compass's graphqlizer writes a template's applicationInput."""
    nullable = get_nullable_type(type_)
    if value is None:
        return "null"
    if is_list_type(nullable):
        items = value if isinstance(value, list) else [value]
        return "[" + ", ".join(graphql_literal(item, nullable.of_type) for item in items) + "]"
    if is_input_object_type(nullable) and isinstance(value, dict):
        fields = nullable.fields
        return (
            "{"
            + ", ".join(
                f"{key}: {graphql_literal(value[key], field.type)}"
                for key, field in fields.items()
                if key in value
            )
            + "}"
        )
    if is_enum_type(nullable):
        return str(value)
    return _json_literal(value)


@strawberry.type(
    description="A blueprint of applications: registerApplicationFromTemplate fills in its placeholders."
)
class ApplicationTemplate:
    model: strawberry.Private[models.ApplicationTemplate]
    id: strawberry.ID
    name: str
    description: str | None
    placeholders: list[PlaceholderDefinition]
    access_level: ApplicationTemplateAccessLevel
    application_namespace: str | None
    created_at: Timestamp
    updated_at: Timestamp

    @classmethod
    def of(cls, model: models.ApplicationTemplate) -> ApplicationTemplate:
        return cls(
            model=model,
            id=strawberry.ID(model.id),
            name=model.name,
            description=model.description,
            placeholders=[PlaceholderDefinition.of(record) for record in model.placeholders],
            access_level=ApplicationTemplateAccessLevel(model.access_level),
            application_namespace=model.application_namespace,
            created_at=Timestamp(model.created_at),
            updated_at=Timestamp(model.updated_at),
        )

    @strawberry.field(
        description="The ApplicationRegisterInput the template registers, as a GraphQL input value with {{placeholders}}."
    )
    def application_input(self, info: Info) -> str:
        return graphql_literal(self.model.application_input, input_type(info, "ApplicationJSONInput"))

    @strawberry.field(description="The template's labels, or only the one with this key.")
    def labels(self, key: str | None = None) -> Labels | None:
        return Labels(
            {name: value for name, value in self.model.labels.items() if key is None or name == key}
        )

    @strawberry.field(
        description="The template's webhooks.", extensions=sanitized(Scope.APPLICATION_TEMPLATE_WEBHOOKS_READ)
    )
    async def webhooks(self, info: Info) -> list[Webhook] | None:
        return [
            Webhook.of(row)
            for row in await info.context.loaders.webhooks_by_application_template.load(self.id)
        ]


@strawberry.type(description="A page of application templates.")
class ApplicationTemplatePage(Page[ApplicationTemplate]):
    pass
