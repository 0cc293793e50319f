"""ORM models of the Director; relationships are not mapped, loaders and repositories join explicitly."""

from credentials.models import OneTimeToken, SystemAuth
from director.models.application import APIDefinition, Application, Bundle, Document, EventDefinition, Webhook
from director.models.application_template import ApplicationTemplate
from director.models.certificate_subject_mapping import CertificateSubjectMapping
from director.models.fetch_request import FetchRequest
from director.models.formation import (
    AssignmentOperation,
    ConstraintReference,
    Formation,
    FormationAssignment,
    FormationConstraint,
    FormationTemplate,
)
from director.models.instance_auth import BundleInstanceAuth
from director.models.integration_dependency import Aspect, AspectEventResource, IntegrationDependency
from director.models.integration_system import IntegrationSystem
from director.models.label import SCENARIOS, Label, LabelDefinition
from director.models.runtime import Runtime
from director.models.runtime_context import RuntimeContext
from director.models.tenant import Tenant, TenantLabel, TenantParent
from director.models.tenant_access import TenantAccess
from kernel.models import Base

__all__ = [
    "SCENARIOS",
    "APIDefinition",
    "Application",
    "ApplicationTemplate",
    "Aspect",
    "AspectEventResource",
    "AssignmentOperation",
    "Base",
    "Bundle",
    "BundleInstanceAuth",
    "CertificateSubjectMapping",
    "ConstraintReference",
    "Document",
    "EventDefinition",
    "FetchRequest",
    "Formation",
    "FormationAssignment",
    "FormationConstraint",
    "FormationTemplate",
    "IntegrationDependency",
    "IntegrationSystem",
    "Label",
    "LabelDefinition",
    "OneTimeToken",
    "Runtime",
    "RuntimeContext",
    "SystemAuth",
    "Tenant",
    "TenantAccess",
    "TenantLabel",
    "TenantParent",
    "Webhook",
]
