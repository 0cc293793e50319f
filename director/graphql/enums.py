from __future__ import annotations

from enum import Enum

import strawberry

from director.application.inputs import ApplicationStatusCondition
from director.bundle.inputs import APISpecType, DocumentFormat, EventSpecType, SpecFormat
from director.formation.inputs import FormationObjectType
from director.instanceauth.inputs import (
    BundleInstanceAuthSetStatusCondition,
    BundleInstanceAuthStatusCondition,
)
from director.runtime.inputs import RuntimeStatusCondition
from director.webhook.inputs import WebhookMode, WebhookType

# The domains' own enums, given their GraphQL names and descriptions. strawberry.enum marks the class itself, so the
# names imported here are the domain classes (and stay valid types for mypy).


strawberry.enum(ApplicationStatusCondition, description="Condition of an application's status.")


strawberry.enum(RuntimeStatusCondition, description="Condition of a runtime's status.")


strawberry.enum(APISpecType, description="Kinds of API specifications.")
strawberry.enum(EventSpecType, description="Kinds of event specifications.")
strawberry.enum(SpecFormat, description="Formats of specifications.")
strawberry.enum(DocumentFormat, description="Formats of documents.")
strawberry.enum(WebhookType, description="What a webhook is called for.")
strawberry.enum(WebhookMode, description="How a webhook is called.")


strawberry.enum(FormationObjectType, description="Kinds of objects a formation holds.")


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


strawberry.enum(BundleInstanceAuthStatusCondition, description="Where a bundle instance auth stands.")
strawberry.enum(
    BundleInstanceAuthSetStatusCondition,
    name="BundleInstanceAuthSetStatusConditionInput",
    description="What an application may report about the credentials it set.",
)
