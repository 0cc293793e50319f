"""The audit trail's event names, apart from its repository so that the CLI declares ``--event`` cheaply."""

from __future__ import annotations

from enum import StrEnum


class AuditEventName(StrEnum):
    """Every event the audit trail records; ``compass audit --event`` offers exactly these."""

    TOKEN_ISSUED = "token_issued"
    TOKEN_REDEEMED = "token_redeemed"
    TOKEN_REFUSED = "token_refused"
    CERTIFICATE_ISSUED = "certificate_issued"
    CERTIFICATE_RENEWED = "certificate_renewed"
    CERTIFICATE_REVOKED = "certificate_revoked"
    CERTIFICATE_REFUSED = "certificate_refused"
    CLIENT_CREDENTIALS_ISSUED = "client_credentials_issued"
