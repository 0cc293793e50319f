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
    TENANT_READ = "tenant:read"
    EVENTING_MANAGE = "eventing:manage"
    # Compass's field scopes: without them the field answers null (its `@sanitize`), not an error.
    APPLICATION_WEBHOOKS_READ = "application.webhooks:read"
    RUNTIME_WEBHOOKS_READ = "runtime.webhooks:read"
    WEBHOOKS_AUTH_READ = "webhooks.auth:read"
    BUNDLE_INSTANCE_AUTHS_READ = "bundle.instance_auths:read"


ALL_SCOPES = frozenset(Scope)


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
