"""Inputs of application templates, with Compass's names."""

from __future__ import annotations

import strawberry

from director.graphql.apptemplate.types import ApplicationTemplateAccessLevel
from director.graphql.inputs import ApplicationRegisterInput, WebhookInput
from director.graphql.scalars import Labels


@strawberry.input(description="An application to register, with {{placeholders}} in its strings.")
class ApplicationJSONInput(ApplicationRegisterInput):
    pass


@strawberry.input(description="A placeholder: a DNS-like name, at most 36 characters.")
class PlaceholderDefinitionInput:
    name: str
    description: str | None = None
    json_path: str | None = strawberry.field(
        default=None, description="Where placeholdersPayload holds the value."
    )
    optional: bool | None = False


@strawberry.input(
    description="A template; its placeholders must be unique and each used in applicationInput."
)
class ApplicationTemplateInput:
    name: str = strawberry.field(
        description="Printable ASCII, at most 100 characters; unique per region label."
    )
    webhooks: list[WebhookInput] | None = None
    description: str | None = None
    labels: Labels | None = None
    application_input: ApplicationJSONInput
    placeholders: list[PlaceholderDefinitionInput] | None = None
    access_level: ApplicationTemplateAccessLevel
    application_namespace: str | None = None


@strawberry.input(description="A template's new fields; its labels are merged into the existing ones.")
class ApplicationTemplateUpdateInput:
    name: str = strawberry.field(
        description="Printable ASCII, at most 100 characters; unique per region label."
    )
    webhooks: list[WebhookInput] | None = None
    description: str | None = None
    application_input: ApplicationJSONInput
    placeholders: list[PlaceholderDefinitionInput] | None = None
    labels: Labels | None = strawberry.field(
        default=None, description="Needs application_template.labels:write."
    )
    access_level: ApplicationTemplateAccessLevel
    application_namespace: str | None = None


@strawberry.input(description="The value of one placeholder.")
class TemplateValueInput:
    placeholder: str
    value: str


@strawberry.input(
    description="A template (by name, and id when several share it) and values for its placeholders."
)
class ApplicationFromTemplateInput:
    id: strawberry.ID | None = None
    template_name: str = strawberry.field(description="Printable ASCII, at most 100 characters.")
    values: list[TemplateValueInput | None] | None = strawberry.field(
        default=None, description="The values; or give placeholdersPayload instead."
    )
    placeholders_payload: str | None = strawberry.field(
        default=None,
        description="JSON holding each placeholder's value at its jsonPath; or give values instead.",
    )
    labels: Labels | None = strawberry.field(
        default=None, description="Labels added to the application's own."
    )
