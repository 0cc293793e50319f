from __future__ import annotations

from director.models import APIDefinition, Bundle, Document, EventDefinition
from director.tenantaccess.repository import Shared
from kernel.repository import TenantScopedRepository


class BundleRepository(Shared, TenantScopedRepository[Bundle]):
    model = Bundle
    noun = "bundle"
    reached_through = (("application_id", "APPLICATION"),)


class APIDefinitionRepository(Shared, TenantScopedRepository[APIDefinition]):
    model = APIDefinition
    noun = "API definition"
    reached_through = (("application_id", "APPLICATION"),)


class EventDefinitionRepository(Shared, TenantScopedRepository[EventDefinition]):
    model = EventDefinition
    noun = "event definition"
    reached_through = (("application_id", "APPLICATION"),)


class DocumentRepository(Shared, TenantScopedRepository[Document]):
    model = Document
    noun = "document"
    reached_through = (("bundle_id", "BUNDLE"),)
