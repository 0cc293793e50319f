"""The one exception root of pycompass: each subclass fixes its stable ``extensions.code``."""

from __future__ import annotations


class CompassError(Exception):
    """An expected failure whose message is safe to show to the caller."""

    code = "INTERNAL"
    http_status = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFoundError(CompassError):
    code = "NOT_FOUND"
    http_status = 404


class InvalidInputError(CompassError):
    code = "INVALID_INPUT"
    http_status = 400


class UnauthenticatedError(CompassError):
    code = "UNAUTHENTICATED"
    http_status = 401


class ForbiddenError(CompassError):
    code = "FORBIDDEN"
    http_status = 403


class TenantNotFoundError(CompassError):
    code = "TENANT_NOT_FOUND"
    http_status = 403


class ConflictError(CompassError):
    code = "CONFLICT"
    http_status = 409
