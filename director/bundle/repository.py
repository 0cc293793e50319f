from __future__ import annotations

from director.models import APIDefinition, Bundle, Document, EventDefinition
from kernel.repository import TenantScopedRepository


class BundleRepository(TenantScopedRepository[Bundle]):
    model = Bundle
    noun = "bundle"


class APIDefinitionRepository(TenantScopedRepository[APIDefinition]):
    model = APIDefinition
    noun = "API definition"


class EventDefinitionRepository(TenantScopedRepository[EventDefinition]):
    model = EventDefinition
    noun = "event definition"


class DocumentRepository(TenantScopedRepository[Document]):
    model = Document
    noun = "document"
