"""The webhook domain's own inputs: what the GraphQL layer converts WebhookInput into."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from director.bundle.inputs import AuthInput


class WebhookType(Enum):
    CONFIGURATION_CHANGED = "CONFIGURATION_CHANGED"
    APPLICATION_TENANT_MAPPING = "APPLICATION_TENANT_MAPPING"
    REGISTER_APPLICATION = "REGISTER_APPLICATION"
    UNREGISTER_APPLICATION = "UNREGISTER_APPLICATION"
    OPEN_RESOURCE_DISCOVERY = "OPEN_RESOURCE_DISCOVERY"


class WebhookMode(Enum):
    SYNC = "SYNC"
    ASYNC = "ASYNC"


@dataclass(frozen=True)
class WebhookInput:
    type: WebhookType
    url: str | None = None
    auth: AuthInput | None = None
    mode: WebhookMode | None = None
