"""Access checks: on root fields, and Compass's ``@sanitize`` on fields that carry credentials.

Operators need the scope a field names. Runtimes and applications authenticated by their client certificate
hold no root-field scopes: a field lets them in only when it names the argument that must be their own id. Deeper
fields that carry credentials answer null to a caller without their scope; certificate clients hold the field
scopes Compass gives their consumer type.
"""

from __future__ import annotations

from typing import Any

from strawberry import Info
from strawberry.extensions import FieldExtension
from strawberry.extensions.field_extension import AsyncExtensionResolver, SyncExtensionResolver
from strawberry.permission import BasePermission, PermissionExtension

from kernel.errors import ForbiddenError
from kernel.principal import ClientKind, ClientPrincipal, Principal, Scope

# Compass's scopes of its runtime and application consumers (hydrator `scopesPerConsumerType`), of those that
# guard a field here: a runtime reads its own webhooks and bundles' instance auths, not applications' webhooks
# nor their templates (so a template's change is in no runtime's cached view); an application reads its template.
CLIENT_FIELD_SCOPES: dict[ClientKind, frozenset[str]] = {
    ClientKind.RUNTIME: frozenset({Scope.RUNTIME_WEBHOOKS_READ, Scope.BUNDLE_INSTANCE_AUTHS_READ}),
    ClientKind.APPLICATION: frozenset(
        {Scope.APPLICATION_WEBHOOKS_READ, Scope.BUNDLE_INSTANCE_AUTHS_READ, Scope.APPLICATION_APPLICATION_TEMPLATE_READ}
    ),
}


class RequireScope(BasePermission):
    error_extensions = {"code": "FORBIDDEN"}  # noqa: RUF012 - strawberry reads it as a class attribute

    def __init__(self, scope: str, own: tuple[ClientKind, str | None] | None = None) -> None:
        self.scope = scope
        self.own = own
        self.message = f"missing scope {str(scope)!r}"

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:  # noqa: ARG002 - strawberry's signature
        principal = info.context.principal
        if isinstance(principal, ClientPrincipal):
            if self.own is None:
                return False
            kind, argument = self.own
            if argument is None:  # the service checks that the object named is the client's own
                return principal.identity.kind is kind
            return principal.identity.kind is kind and kwargs.get(argument) == principal.identity.object_id
        return bool(principal.has_scope(self.scope))


def scoped(scope: str, *, own: tuple[ClientKind, str | None] | None = None) -> list[FieldExtension]:
    """Field extensions: ``strawberry.field(extensions=scoped("runtime:read", own=(ClientKind.RUNTIME, "id")))``.

    Args:
        scope: what an operator's token must grant.
        own: which certificate clients may call the field too: their kind, and the argument (python name)
            that must equal their own runtime or application id; None when the argument names a part of it
            (a runtime context) and the service refuses another's.
    """
    return [PermissionExtension(permissions=[RequireScope(scope, own)], fail_silently=False, use_directives=False)]


def require_scope(info: Info, *scopes: str) -> None:
    """The check of ``scoped`` (any one of ``scopes``) inside a resolver, for a scope that depends on what the
    arguments name. Certificate clients hold none."""
    principal = info.context.principal
    if isinstance(principal, ClientPrincipal) or not any(principal.has_scope(scope) for scope in scopes):
        raise ForbiddenError("missing scope " + " or ".join(repr(str(scope)) for scope in scopes))


def may_read(principal: Principal, scope: str) -> bool:
    if isinstance(principal, ClientPrincipal):
        return scope in CLIENT_FIELD_SCOPES[principal.identity.kind]
    return bool(principal.has_scope(scope))


class Sanitize(FieldExtension):
    """Compass's ``@sanitize``: to a caller without the scope the field answers null, without an error."""

    def __init__(self, scope: str) -> None:
        self.scope = scope

    def resolve(self, next_: SyncExtensionResolver, source: Any, info: Info, **kwargs: Any) -> Any:
        return next_(source, info, **kwargs) if may_read(info.context.principal, self.scope) else None

    async def resolve_async(self, next_: AsyncExtensionResolver, source: Any, info: Info, **kwargs: Any) -> Any:
        return await next_(source, info, **kwargs) if may_read(info.context.principal, self.scope) else None


def sanitized(scope: str) -> list[FieldExtension]:
    """Field extensions: ``auth: Auth | None = strawberry.field(extensions=sanitized(Scope.WEBHOOKS_AUTH_READ))``."""
    return [Sanitize(scope)]
