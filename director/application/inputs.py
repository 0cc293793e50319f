"""The application domain's own inputs: what the GraphQL layer converts its application inputs into."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any

from director.bundle.inputs import BundleCreateInput
from director.webhook.inputs import WebhookInput


class ApplicationStatusCondition(Enum):
    INITIAL = "INITIAL"
    CONNECTED = "CONNECTED"
    FAILED = "FAILED"


@dataclass(frozen=True)
class ApplicationRegisterInput:
    """An application with its whole tree; ``labels`` maps keys to JSON values."""

    name: str
    provider_name: str | None = None
    description: str | None = None
    labels: dict[str, Any] | None = None
    webhooks: tuple[WebhookInput, ...] | None = None
    health_check_url: str | None = None
    base_url: str | None = None
    integration_system_id: str | None = None
    status_condition: ApplicationStatusCondition | None = None
    bundles: tuple[BundleCreateInput, ...] | None = None


@dataclass(frozen=True)
class ApplicationUpdateInput:
    """New values of an application's own fields (its name cannot change)."""

    provider_name: str | None = None
    description: str | None = None
    health_check_url: str | None = None
    base_url: str | None = None
    integration_system_id: str | None = None
    status_condition: ApplicationStatusCondition | None = None
