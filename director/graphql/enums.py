from __future__ import annotations

from enum import Enum

import strawberry

from director.application.inputs import ApplicationStatusCondition
from director.bundle.inputs import (
    APISpecType,
    DocumentFormat,
    EventSpecType,
    FetchMode,
    FetchRequestStatusCondition,
    SpecFormat,
)
from director.formation.inputs import FormationObjectType
from director.formationconstraint.inputs import ConstraintScope, ConstraintType, ResourceType, TargetOperation
from director.formationtemplate.inputs import ArtifactType
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
strawberry.enum(FetchMode, description="How a spec is fetched; only SINGLE is fetched, as in Compass.")
strawberry.enum(FetchRequestStatusCondition, description="How the last fetch of a spec went.")
strawberry.enum(WebhookType, description="What a webhook is called for.")
strawberry.enum(WebhookMode, description="How a webhook is called.")


strawberry.enum(FormationObjectType, description="Kinds of objects a formation holds.")
strawberry.enum(ArtifactType, description="What a formation template's runtime artifact is.")
strawberry.enum(ConstraintType, description="When a formation constraint is enforced: before or after the operation, or in a UI.")
strawberry.enum(ConstraintScope, description="Where a formation constraint applies: everywhere, or to the templates it is attached to.")
strawberry.enum(TargetOperation, description="The operation a formation constraint is enforced on.")
strawberry.enum(ResourceType, description="The kind of resource a formation constraint is about.")


@strawberry.enum(description="Kinds of formation participants.")
class FormationAssignmentType(Enum):
    APPLICATION = "APPLICATION"
    RUNTIME = "RUNTIME"
    RUNTIME_CONTEXT = "RUNTIME_CONTEXT"


@strawberry.enum(description="What an assignment operation did.")
class AssignmentOperationType(Enum):
    ASSIGN = "ASSIGN"
    UNASSIGN = "UNASSIGN"


@strawberry.enum(description="What started an assignment operation.")
class OperationTrigger(Enum):
    ASSIGN_OBJECT = "ASSIGN_OBJECT"
    UNASSIGN_OBJECT = "UNASSIGN_OBJECT"
    RESET = "RESET"
    RESYNC = "RESYNC"


@strawberry.enum(description="A formation's state aggregated with its assignments'.")
class FormationStatusCondition(Enum):
    IN_PROGRESS = "IN_PROGRESS"
    ERROR = "ERROR"
    READY = "READY"
    DRAFT = "DRAFT"


@strawberry.enum(description="Kinds of objects a system auth belongs to.")
class SystemAuthReferenceType(Enum):
    APPLICATION = "APPLICATION"
    RUNTIME = "RUNTIME"
    INTEGRATION_SYSTEM = "INTEGRATION_SYSTEM"


@strawberry.enum(description="Whether a mutation completes within the request (SYNC) or through webhooks (ASYNC).")
class OperationMode(Enum):
    SYNC = "SYNC"
    ASYNC = "ASYNC"


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
