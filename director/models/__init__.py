"""ORM models of the Director; relationships are not mapped, loaders and repositories join explicitly."""

from credentials.models import OneTimeToken, SystemAuth
from director.models.application import APIDefinition, Application, Bundle, Document, EventDefinition, Webhook
from director.models.formation import Formation
from director.models.instance_auth import BundleInstanceAuth
from director.models.label import SCENARIOS, Label, LabelDefinition
from director.models.runtime import Runtime
from director.models.tenant import Tenant
from kernel.models import Base

__all__ = [
    "SCENARIOS",
    "APIDefinition",
    "Application",
    "Base",
    "Bundle",
    "BundleInstanceAuth",
    "Document",
    "EventDefinition",
    "Formation",
    "Label",
    "LabelDefinition",
    "OneTimeToken",
    "Runtime",
    "SystemAuth",
    "Tenant",
    "Webhook",
]
