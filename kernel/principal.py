"""Who is calling: resolved once per request by the authentication middleware, read by resolvers."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from kernel.errors import UnauthenticatedError


class ClientKind(StrEnum):
    RUNTIME = "RUNTIME"
    APPLICATION = "APPLICATION"


@dataclass(frozen=True)
class CertificateIdentity:
    serial: str
    client_id: str
    tenant_id: str
    kind: ClientKind
    object_id: str
    not_after: datetime
    revoked: bool = False



class Scope(StrEnum):
    """What an operator's JWT may do; `compass token` grants all of them unless told otherwise."""

    APPLICATION_READ = "application:read"
    APPLICATION_WRITE = "application:write"
    RUNTIME_READ = "runtime:read"
    RUNTIME_WRITE = "runtime:write"
    LABEL_DEFINITION_READ = "label_definition:read"
    LABEL_DEFINITION_WRITE = "label_definition:write"
    FORMATION_READ = "formation:read"
    FORMATION_WRITE = "formation:write"
    FORMATION_GLOBAL_READ = "formation:global_read"
    FORMATION_GLOBAL_WRITE = "formation:global_write"
    FORMATION_STATE_WRITE = "formation.state:write"
    FORMATION_TEMPLATE_READ = "formation_template:read"
    FORMATION_TEMPLATE_WRITE = "formation_template:write"
    FORMATION_CONSTRAINT_READ = "formation_constraint:read"
    FORMATION_CONSTRAINT_WRITE = "formation_constraint:write"
    AUTOMATIC_SCENARIO_ASSIGNMENT_READ = "automatic_scenario_assignment:read"
    TENANT_READ = "tenant:read"
    EVENTING_MANAGE = "eventing:manage"
    INTEGRATION_SYSTEM_READ = "integration_system:read"
    INTEGRATION_SYSTEM_WRITE = "integration_system:write"
    # Compass's scope of its internal callers (systemAuthByToken); here answered within the caller's tenant only.
    ORY_INTERNAL = "ory_internal"
    APPLICATION_TEMPLATE_READ = "application_template:read"
    APPLICATION_TEMPLATE_WRITE = "application_template:write"
    # Compass's field scopes: without them the field answers null (its `@sanitize`), not an error.
    APPLICATION_WEBHOOKS_READ = "application.webhooks:read"
    RUNTIME_WEBHOOKS_READ = "runtime.webhooks:read"
    WEBHOOKS_AUTH_READ = "webhooks.auth:read"
    BUNDLE_INSTANCE_AUTHS_READ = "bundle.instance_auths:read"
    API_SPEC_FETCH_REQUEST_READ = "api_spec.fetch_request:read"
    EVENT_SPEC_FETCH_REQUEST_READ = "event_spec.fetch_request:read"
    DOCUMENT_FETCH_REQUEST_READ = "document.fetch_request:read"
    FETCH_REQUEST_AUTH_READ = "fetch-request.auth:read"
    INTEGRATION_SYSTEM_AUTHS_READ = "integration_system.auths:read"
    APPLICATION_TEMPLATE_WEBHOOKS_READ = "application_template.webhooks:read"
    FORMATION_TEMPLATE_WEBHOOKS_READ = "formation_template.webhooks:read"
    APPLICATION_APPLICATION_TEMPLATE_READ = "application.application_template:read"
    # Compass's input scope: updateApplicationTemplate may change a template's labels only with it.
    APPLICATION_TEMPLATE_LABELS_WRITE = "application_template.labels:write"
    # Compass's @hasScopes on the localTenantID input field of an application.
    APPLICATION_LOCAL_TENANT_ID_WRITE = "application.local_tenant_id:write"
    BUNDLE_INSTANCE_AUTH_WRITE = "bundle_instance_auth:write"
    HEALTH_CHECKS_READ = "health_checks:read"
    OPERATION_READ = "operation:read"
    OPERATION_SCHEDULE = "operation:schedule"
    # Platform scopes (below): they act beyond the caller's tenant, so a token holds them only when asked for.
    TENANT_WRITE = "tenant:write"
    CERTIFICATE_SUBJECT_MAPPING_READ = "certificate_subject_mapping:read"
    CERTIFICATE_SUBJECT_MAPPING_WRITE = "certificate_subject_mapping:write"
    # Every tenant's applications at once (`applicationsGlobal`): Compass's super_admin scope.
    APPLICATION_GLOBAL_READ = "application_global:read"
    # Sharing an object with another tenant (addTenantAccess): Compass gives it to its internal components only.
    TENANT_ACCESS_WRITE = "tenant_access:write"
    # subscribeTenant/unsubscribeTenant (Compass's tenant fetcher's scope): they write into the provider's and the
    # consumer's tenants, whoever calls.
    TENANT_SUBSCRIPTION_WRITE = "tenant_subscription:write"


# Compass gives none of these to a tenant's operators (its super_admin holds the subject mappings' only; the
# tenant fetcher holds tenant:write): writing tenants and mapping certificates to consumers reach other tenants.
PLATFORM_SCOPES = frozenset({
    Scope.TENANT_WRITE,
    Scope.CERTIFICATE_SUBJECT_MAPPING_READ,
    Scope.CERTIFICATE_SUBJECT_MAPPING_WRITE,
    Scope.APPLICATION_GLOBAL_READ,
    Scope.TENANT_SUBSCRIPTION_WRITE,
    # Formation constraints are global: a GLOBAL one is enforced in every tenant.
    Scope.FORMATION_CONSTRAINT_WRITE,
    # A grant makes an object visible in, and changeable from, another tenant.
    Scope.TENANT_ACCESS_WRITE,
})
ALL_SCOPES = frozenset(Scope) - PLATFORM_SCOPES


@dataclass(frozen=True)
class OperatorPrincipal:
    """A person or tool holding a JWT, acting in one tenant."""

    subject: str
    tenant_id: str
    scopes: frozenset[str] = field(default=ALL_SCOPES)

    viewer_type = "USER"

    @property
    def viewer_id(self) -> str:
        return self.subject

    def has_scope(self, scope: str) -> bool:
        return scope in self.scopes


@dataclass(frozen=True)
class IntegrationSystemPrincipal(OperatorPrincipal):
    """An integration system holding a client-credentials token: global, it acts in the tenant its request
    names, with the scopes Compass gives its consumer type; ``subject`` is the integration system's id."""

    viewer_type = "INTEGRATION_SYSTEM"


@dataclass(frozen=True)
class AnonymousPrincipal:
    """The caller of the GraphiQL page: strawberry builds a context for it, yet executes nothing."""

    viewer_type = "USER"

    @property
    def viewer_id(self) -> str:
        raise UnauthenticatedError("send Authorization: Bearer <JWT> (see `compass token`)")

    @property
    def tenant_id(self) -> str:
        raise UnauthenticatedError("send Authorization: Bearer <JWT> (see `compass token`)")

    def has_scope(self, scope: str) -> bool:  # noqa: ARG002 - the Principal interface; no scope is held
        return False


ANONYMOUS = AnonymousPrincipal()

@dataclass(frozen=True)
class ClientPrincipal:
    """A runtime or application authenticated by its client certificate: it sees only itself."""

    identity: CertificateIdentity

    @property
    def viewer_type(self) -> str:
        return self.identity.kind.value

    @property
    def viewer_id(self) -> str:
        return self.identity.object_id

    @property
    def tenant_id(self) -> str:
        return self.identity.tenant_id

    def has_scope(self, scope: str) -> bool:  # noqa: ARG002 - the Principal interface; no scope is held
        return False


Principal = OperatorPrincipal | ClientPrincipal | AnonymousPrincipal
