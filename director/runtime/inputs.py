"""The runtime domain's own inputs: what the GraphQL layer converts its runtime inputs into."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any

from director.webhook.inputs import WebhookInput


class RuntimeStatusCondition(Enum):
    INITIAL = "INITIAL"
    PROVISIONING = "PROVISIONING"
    CONNECTED = "CONNECTED"
    FAILED = "FAILED"


@dataclass(frozen=True)
class RuntimeRegisterInput:
    """A runtime to register; ``labels`` maps keys to JSON values."""

    name: str
    description: str | None = None
    labels: dict[str, Any] | None = None
    webhooks: tuple[WebhookInput, ...] | None = None
    status_condition: RuntimeStatusCondition | None = None
    application_namespace: str | None = None


@dataclass(frozen=True)
class RuntimeUpdateInput:
    """New values of a runtime; given labels are set, others are kept, and so is a namespace not given."""

    name: str
    description: str | None = None
    labels: dict[str, Any] | None = None
    status_condition: RuntimeStatusCondition | None = None
    application_namespace: str | None = None
