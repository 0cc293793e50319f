"""Who a certificate-authenticated caller is: the client id its CN carries, resolved against the database."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


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
