"""The application template domain's own inputs: what the GraphQL layer converts its template inputs into."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any

from director.webhook.inputs import WebhookInput


class ApplicationTemplateAccessLevel(Enum):
    GLOBAL = "GLOBAL"


@dataclass(frozen=True)
class PlaceholderDefinitionInput:
    name: str
    description: str | None = None
    json_path: str | None = None
    optional: bool | None = False


@dataclass(frozen=True)
class ApplicationTemplateInput:
    """A template; ``application_input`` is the ApplicationJSONInput as JSON with Compass's (camelCase) names.

    Updates take the same fields: Compass's update replaces the template as a whole (webhooks only when given or
    when overriding)."""

    name: str
    access_level: ApplicationTemplateAccessLevel
    application_input: dict[str, Any]
    description: str | None = None
    webhooks: tuple[WebhookInput, ...] | None = None
    labels: dict[str, Any] | None = None
    placeholders: tuple[PlaceholderDefinitionInput, ...] | None = None
    application_namespace: str | None = None


@dataclass(frozen=True)
class TemplateValueInput:
    placeholder: str
    value: str


@dataclass(frozen=True)
class ApplicationFromTemplateInput:
    """Which template (its name, and its id when several share the name) and the placeholders' values: given one
    by one, or read from ``placeholders_payload`` (JSON) at each placeholder's ``jsonPath``."""

    template_name: str
    id: str | None = None
    values: tuple[TemplateValueInput, ...] | None = None
    placeholders_payload: str | None = None
    labels: dict[str, Any] | None = None
