"""Access checks on root fields.

Operators need the scope a field names. Runtimes and applications authenticated by their client certificate
hold no scopes: a field lets them in only when it names the argument that must be their own id.
"""

from __future__ import annotations

from typing import Any

from strawberry import Info
from strawberry.permission import BasePermission, PermissionExtension

from compass.auth.principal import ClientPrincipal
from connector.identity import ClientKind


class RequireScope(BasePermission):
    error_extensions = {"code": "FORBIDDEN"}  # noqa: RUF012 - strawberry reads it as a class attribute

    def __init__(self, scope: str, own: tuple[ClientKind, str] | None = None) -> None:
        self.scope = scope
        self.own = own
        self.message = f"missing scope {str(scope)!r}"

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        principal = info.context.principal
        if isinstance(principal, ClientPrincipal):
            if self.own is None:
                return False
            kind, argument = self.own
            return principal.identity.kind is kind and kwargs.get(argument) == principal.identity.object_id
        return bool(principal.has_scope(self.scope))


def scoped(scope: str, *, own: tuple[ClientKind, str] | None = None) -> list[PermissionExtension]:
    """Field extensions: ``strawberry.field(extensions=scoped("runtime:read", own=(ClientKind.RUNTIME, "id")))``.

    Args:
        scope: what an operator's token must grant.
        own: which certificate clients may call the field too: their kind, and the argument (python name)
            that must equal their own runtime or application id.
    """
    return [PermissionExtension(permissions=[RequireScope(scope, own)], fail_silently=False, use_directives=False)]
