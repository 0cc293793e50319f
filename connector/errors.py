"""Refusals of the Connector, each with its stable code."""

from __future__ import annotations

from kernel.errors import CompassError


class InvalidTokenError(CompassError):
    code = "INVALID_TOKEN"
    http_status = 403


class TokenAlreadyUsedError(CompassError):
    code = "TOKEN_ALREADY_USED"
    http_status = 403


class TokenExpiredError(CompassError):
    code = "TOKEN_EXPIRED"
    http_status = 403


class CertificateRevokedError(CompassError):
    code = "CERTIFICATE_REVOKED"
    http_status = 403


class CertificateLimitError(CompassError):
    code = "CERTIFICATE_LIMIT_REACHED"
    http_status = 429


class RateLimitedError(CompassError):
    code = "RATE_LIMITED"
    http_status = 429
