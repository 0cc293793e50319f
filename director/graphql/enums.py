from __future__ import annotations

from enum import Enum

import strawberry


@strawberry.enum(description="Condition of an application's status.")
class ApplicationStatusCondition(Enum):
    INITIAL = "INITIAL"
    CONNECTED = "CONNECTED"
    FAILED = "FAILED"


@strawberry.enum(description="Condition of a runtime's status.")
class RuntimeStatusCondition(Enum):
    INITIAL = "INITIAL"
    PROVISIONING = "PROVISIONING"
    CONNECTED = "CONNECTED"
    FAILED = "FAILED"


@strawberry.enum(description="Kinds of API specifications.")
class APISpecType(Enum):
    ODATA = "ODATA"
    OPEN_API = "OPEN_API"


@strawberry.enum(description="Kinds of event specifications.")
class EventSpecType(Enum):
    ASYNC_API = "ASYNC_API"


@strawberry.enum(description="Formats of specifications.")
class SpecFormat(Enum):
    YAML = "YAML"
    JSON = "JSON"
    XML = "XML"


@strawberry.enum(description="Formats of documents.")
class DocumentFormat(Enum):
    MARKDOWN = "MARKDOWN"


@strawberry.enum(description="What a webhook is called for.")
class WebhookType(Enum):
    CONFIGURATION_CHANGED = "CONFIGURATION_CHANGED"
    APPLICATION_TENANT_MAPPING = "APPLICATION_TENANT_MAPPING"
    REGISTER_APPLICATION = "REGISTER_APPLICATION"
    UNREGISTER_APPLICATION = "UNREGISTER_APPLICATION"
    OPEN_RESOURCE_DISCOVERY = "OPEN_RESOURCE_DISCOVERY"


@strawberry.enum(description="How a webhook is called.")
class WebhookMode(Enum):
    SYNC = "SYNC"
    ASYNC = "ASYNC"


@strawberry.enum(description="Kinds of objects a formation holds.")
class FormationObjectType(Enum):
    APPLICATION = "APPLICATION"
    RUNTIME = "RUNTIME"
    TENANT = "TENANT"


@strawberry.enum(description="Kinds of objects a system auth belongs to.")
class SystemAuthReferenceType(Enum):
    APPLICATION = "APPLICATION"
    RUNTIME = "RUNTIME"
    INTEGRATION_SYSTEM = "INTEGRATION_SYSTEM"


@strawberry.enum(description="Who is calling.")
class ViewerType(Enum):
    USER = "USER"
    RUNTIME = "RUNTIME"
    APPLICATION = "APPLICATION"
    INTEGRATION_SYSTEM = "INTEGRATION_SYSTEM"


@strawberry.enum(description="Where a bundle instance auth stands.")
class BundleInstanceAuthStatusCondition(Enum):
    PENDING = "PENDING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    UNUSED = "UNUSED"


@strawberry.enum(description="What an application may report about the credentials it set.")
class BundleInstanceAuthSetStatusConditionInput(Enum):
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
