from __future__ import annotations

from director.models import APIDefinition, Bundle, Document, EventDefinition
from kernel.repository import TenantScopedRepository


class BundleRepository(TenantScopedRepository[Bundle]):
    model = Bundle


class APIDefinitionRepository(TenantScopedRepository[APIDefinition]):
    model = APIDefinition


class EventDefinitionRepository(TenantScopedRepository[EventDefinition]):
    model = EventDefinition


class DocumentRepository(TenantScopedRepository[Document]):
    model = Document
