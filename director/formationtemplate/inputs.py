"""The formation template domain's inputs (Compass's FormationTemplateRegisterInput and FormationTemplateUpdateInput)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any

from director.webhook.inputs import WebhookInput


class ArtifactType(Enum):
    SUBSCRIPTION = "SUBSCRIPTION"
    SERVICE_INSTANCE = "SERVICE_INSTANCE"
    ENVIRONMENT_INSTANCE = "ENVIRONMENT_INSTANCE"


@dataclass(frozen=True)
class FormationTemplateUpdateInput:
    name: str
    application_types: list[str]
    runtime_types: list[str] | None = None
    runtime_type_display_name: str | None = None
    runtime_artifact_kind: ArtifactType | None = None
    leading_product_ids: list[str] | None = None
    supports_reset: bool | None = None
    discovery_consumers: list[str] | None = None


@dataclass(frozen=True)
class FormationTemplateRegisterInput(FormationTemplateUpdateInput):
    webhooks: list[WebhookInput] | None = None
    labels: dict[str, Any] | None = None
