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
    OPEN_RESOURCE_DISCOVERY_STATIC = "OPEN_RESOURCE_DISCOVERY_STATIC"
    FORMATION_LIFECYCLE = "FORMATION_LIFECYCLE"
    SYSTEM_FIELD_DISCOVERY = "SYSTEM_FIELD_DISCOVERY"


class WebhookMode(Enum):
    SYNC = "SYNC"
    ASYNC = "ASYNC"
    ASYNC_CALLBACK = "ASYNC_CALLBACK"


@dataclass(frozen=True)
class WebhookInput:
    """``version`` selects Compass's tenant-mapping webhooks for an application template's webhook; a webhook
    added directly ignores it, as in Compass."""

    type: WebhookType
    url: str | None = None
    auth: AuthInput | None = None
    mode: WebhookMode | None = None
    version: str | None = None
    correlation_id_key: str | None = None
    retry_interval: int | None = None
    timeout: int | None = None
    url_template: str | None = None
    input_template: str | None = None
    header_template: str | None = None
    output_template: str | None = None
    status_template: str | None = None
