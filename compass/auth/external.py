"""Client certificates of external CAs (``COMPASS_EXTERNAL_CLIENT_CA_FILE``), admitted as Compass's hydrator
admits externally issued certificates that a certificate subject mapping names.

The certificate's subject is matched against the mappings (read afresh on every such request: one statement, so
a created, changed or deleted mapping counts from the next request); no match, no access. The mapping's
``tenantAccessLevels`` decide the tenant: the one the ``Tenant`` header names (by external id, as in Compass, or
by internal id) when its type is one of the levels. Without the header Compass grants an empty tenant context to
``global`` access; pycompass acts in one tenant per request, so it refuses that with a message. What the consumer
may do comes from ``CONSUMERS``; the mapping's ``internalConsumerID`` names the runtime, application or
integration system a certificate acts as. These certificates are not revocable here: delete the mapping.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from cryptography import x509

from compass.auth.certificates import serial_of
from compass.auth.oauth import APPLICATION, CONSUMER_SCOPES, INTEGRATION_SYSTEM, RUNTIME
from director.application.repository import ApplicationRepository
from director.certsubjectmapping.service import certificate_subject_mapping
from director.integrationsystem.repository import IntegrationSystemRepository
from director.models import CertificateSubjectMapping, Tenant
from director.runtime.repository import RuntimeRepository
from director.tenant.repository import TenantRepository
from kernel.db import Database
from kernel.errors import ForbiddenError, TenantNotFoundError, UnauthenticatedError
from kernel.principal import (
    CertificateIdentity,
    ClientKind,
    ClientPrincipal,
    IntegrationSystemPrincipal,
    OperatorPrincipal,
    Scope,
)

GLOBAL_ACCESS = "global"
SUPER_ADMIN = "Super Admin"


class Acts(Enum):
    """What a consumer type is in pycompass."""

    RUNTIME = "runtime"  # its runtime's client certificate: only its own objects
    APPLICATION = "application"  # its application's client certificate: only its own objects
    INTEGRATION_SYSTEM = "integration system"  # as an integration system's client-credentials token
    OPERATOR = "operator"  # an operator holding the scopes below


@dataclass(frozen=True)
class Consumer:
    acts: Acts
    scopes: frozenset[str] = frozenset()


# Compass's consumer types that pycompass can give rights to: the three its client credentials know, and the super
# admin with Compass's scopes for it (its director configuration), of the scopes pycompass has. Compass's other
# types (Technical Client, Application Provider, Formation Viewer, ...) take their scopes from its deployment's
# values, which are not public: a mapping to one of them is refused.
CONSUMERS: dict[str, Consumer] = {
    RUNTIME: Consumer(Acts.RUNTIME),
    APPLICATION: Consumer(Acts.APPLICATION),
    INTEGRATION_SYSTEM: Consumer(Acts.INTEGRATION_SYSTEM, CONSUMER_SCOPES[INTEGRATION_SYSTEM]),
    SUPER_ADMIN: Consumer(
        Acts.OPERATOR,
        frozenset(Scope) & {
            "application:read", "application:write", "application_global:read", "application_template:read",
            "application_template:write", "integration_system:read", "integration_system:write", "runtime:read",
            "runtime:write", "label_definition:read", "label_definition:write", "eventing:manage", "tenant:read",
            "automatic_scenario_assignment:read", "application.auths:read", "application.webhooks:read",
            "application.application_template:read", "application_template.webhooks:read",
            "application_template.labels:write", "bundle.instance_auths:read", "document.fetch_request:read",
            "event_spec.fetch_request:read", "api_spec.fetch_request:read", "integration_system.auths:read",
            "runtime.auths:read", "fetch-request.auth:read", "webhooks.auth:read", "formation:read", "formation:write",
            "runtime.webhooks:read", "webhook:write", "formation_template:read", "formation_template:write",
            "formation_template.webhooks:read", "formation_constraint:read", "formation_constraint:write",
            "certificate_subject_mapping:read", "certificate_subject_mapping:write", "formation.state:write",
            "formation:global_write", "formation:global_read",
        },
    ),
}  # fmt: skip


def subject_of(certificate: x509.Certificate) -> str:
    """The subject as Compass's hydrator reads it (``CN=…,OU=…,O=…,L=…,C=…``); only attribute values count."""
    return certificate.subject.rfc4514_string()


def _tenant_for(mapping: CertificateSubjectMapping, tenant: Tenant | None, requested: str | None, auth_id: str) -> Tenant:
    """Compass's access-level check: the tenant's type must be one of the mapping's levels."""
    levels = mapping.tenant_access_levels
    if not requested:
        if GLOBAL_ACCESS not in levels:
            raise UnauthenticatedError(f"Certificate with auth ID {auth_id} does not have global access")
        raise ForbiddenError("pycompass acts in one tenant per request: send the Tenant header")
    if tenant is None:
        raise TenantNotFoundError(f"tenant {requested!r} does not exist")
    if tenant.type not in levels:
        raise UnauthenticatedError(
            f"Certificate with auth ID {auth_id} has no access to {tenant.type} tenant with ID {requested}"
        )
    return tenant


async def external_principal(
    database: Database, certificate: x509.Certificate, requested_tenant: str | None
) -> OperatorPrincipal | ClientPrincipal:
    """The principal of a certificate an external CA issued, as the first mapping matching its subject says."""
    subject = subject_of(certificate)
    async with database.read_sessions() as session:
        mapping = await certificate_subject_mapping.matching(session, subject)
        if mapping is None:
            raise UnauthenticatedError("no certificate subject mapping matches the client certificate's subject")
        consumer = CONSUMERS.get(mapping.consumer_type)
        if consumer is None:
            raise ForbiddenError(f"consumer type {mapping.consumer_type!r} has no rights in pycompass")
        auth_id = mapping.internal_consumer_id or subject
        tenants = TenantRepository(session)
        found = None
        if requested_tenant:
            found = await tenants.get_by_external_id(requested_tenant) or await tenants.get(requested_tenant)
        tenant = _tenant_for(mapping, found, requested_tenant, auth_id)
        if consumer.acts is Acts.OPERATOR:
            return OperatorPrincipal(subject=auth_id, tenant_id=tenant.id, scopes=consumer.scopes)
        object_id = mapping.internal_consumer_id
        if object_id is None:
            raise UnauthenticatedError(f"the certificate subject mapping for {subject!r} names no internalConsumerID")
        if consumer.acts is Acts.INTEGRATION_SYSTEM:
            if await IntegrationSystemRepository(session).get(object_id) is None:
                raise UnauthenticatedError(f"integration system {object_id} does not exist")
            return IntegrationSystemPrincipal(subject=object_id, tenant_id=tenant.id, scopes=consumer.scopes)
        kind, repository = (
            (ClientKind.RUNTIME, RuntimeRepository(session))
            if consumer.acts is Acts.RUNTIME
            else (ClientKind.APPLICATION, ApplicationRepository(session))
        )
        if await repository.get(tenant.id, object_id) is None:
            raise UnauthenticatedError(f"{kind.lower()} {object_id} does not exist in tenant {requested_tenant}")
    identity = CertificateIdentity(
        serial=serial_of(certificate),
        client_id=object_id,
        tenant_id=tenant.id,
        kind=kind,
        object_id=object_id,
        not_after=certificate.not_valid_after_utc,
    )
    return ClientPrincipal(identity)
