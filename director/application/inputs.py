"""The application domain's own inputs: what the GraphQL layer converts its application inputs into."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any

from director.bundle.inputs import BundleCreateInput
from director.webhook.inputs import WebhookInput


class ApplicationStatusCondition(Enum):
    """Compass's conditions; the CREATE_/UPDATE_/DELETE_/UNPAIR_ ones report asynchronous operations."""

    INITIAL = "INITIAL"
    CONNECTED = "CONNECTED"
    FAILED = "FAILED"
    CREATING = "CREATING"
    CREATE_FAILED = "CREATE_FAILED"
    CREATE_SUCCEEDED = "CREATE_SUCCEEDED"
    UPDATING = "UPDATING"
    UPDATE_FAILED = "UPDATE_FAILED"
    UPDATE_SUCCEEDED = "UPDATE_SUCCEEDED"
    DELETING = "DELETING"
    DELETE_FAILED = "DELETE_FAILED"
    DELETE_SUCCEEDED = "DELETE_SUCCEEDED"
    UNPAIRING = "UNPAIRING"
    UNPAIR_FAILED = "UNPAIR_FAILED"


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
    application_namespace: str | None = None
    local_tenant_id: str | None = None


@dataclass(frozen=True)
class ApplicationUpdateInput:
    """New values of an application's own fields (its name cannot change); as in Compass, an update without
    ``application_namespace`` or ``local_tenant_id`` keeps the stored one."""

    provider_name: str | None = None
    description: str | None = None
    health_check_url: str | None = None
    base_url: str | None = None
    integration_system_id: str | None = None
    status_condition: ApplicationStatusCondition | None = None
    application_namespace: str | None = None
    local_tenant_id: str | None = None
