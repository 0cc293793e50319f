from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response

from connector.service import ConnectorService
from kernel.errors import UnauthenticatedError
from kernel.principal import CertificateIdentity


@dataclass(frozen=True)
class TokenCredential:
    """A one-time token from the Connector-Token header (or ?token=); redeemed by the resolver that uses it."""

    token: str


ConnectorCredential = TokenCredential | CertificateIdentity


@dataclass
class ConnectorContext:
    request: Request
    response: Response | None
    service: ConnectorService
    credential: ConnectorCredential | None

    @property
    def remote_addr(self) -> str | None:
        return self.request.client.host if self.request.client else None

    def require_credential(self) -> ConnectorCredential:
        if self.credential is None:
            raise UnauthenticatedError("send a one-time token in the Connector-Token header, or a client certificate")
        return self.credential

    def require_certificate(self) -> CertificateIdentity:
        if not isinstance(self.credential, CertificateIdentity):
            raise UnauthenticatedError("this call needs a client certificate (mTLS)")
        return self.credential
