"""Scope checks on root fields: a missing scope is a FORBIDDEN error naming the scope."""

from __future__ import annotations

from typing import Any

from strawberry import Info
from strawberry.permission import BasePermission, PermissionExtension


class RequireScope(BasePermission):
    error_extensions = {"code": "FORBIDDEN"}  # noqa: RUF012 - strawberry reads it as a class attribute

    def __init__(self, scope: str) -> None:
        self.scope = scope
        self.message = f"missing scope {str(scope)!r}"

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        return bool(info.context.principal.has_scope(self.scope))


def scoped(scope: str) -> list[PermissionExtension]:
    """Field extensions for ``strawberry.field(extensions=scoped("application:read"))``."""
    return [PermissionExtension(permissions=[RequireScope(scope)], fail_silently=False, use_directives=False)]
