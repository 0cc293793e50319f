"""How a request is authenticated to the target: the caller's own token, Basic, or a client certificate (OAuth is
in ``gateway.auth.oauth``). A strategy also authenticates the CSRF token fetch, so both requests carry the same
identity."""

from __future__ import annotations

import base64
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Protocol

from gateway.auth.secrets import digest
from gateway.lookup import ResolvedApi
from gateway.outgoing import ClientCertificate, Outgoing
from gateway.upstream import Upstream

AUTHORIZATION = "Authorization"


class Strategy(Protocol):
    @property
    def identity(self) -> Hashable:
        """Whom the target sees (no secret in clear): CSRF tokens are kept per identity."""
        ...

    async def apply(self, request: Outgoing) -> None: ...

    def invalidate(self) -> None:
        """Forgets what the target refused (a cached token), so the next ``apply`` gets a new one."""
        ...


@dataclass(frozen=True)
class CallerToken:
    """The caller's ``Access-Token``, sent verbatim as ``Authorization`` instead of the configured credentials.

    Kept on a 401/403 retry too: Kyma's gateway retries such a call with the configured credentials, i.e. as
    another identity than the caller chose; here the retry only fetches a new CSRF token."""

    value: str

    @property
    def identity(self) -> Hashable:
        return ("access-token", digest(self.value.encode()))

    async def apply(self, request: Outgoing) -> None:
        request.headers[AUTHORIZATION] = self.value

    def invalidate(self) -> None:
        """Nothing is cached: the caller decides which token to send."""


@dataclass(frozen=True)
class BasicAuth:
    """``Authorization: Basic`` from the Secret's ``username`` and ``password``, replacing the caller's."""

    username: bytes
    password: bytes

    @classmethod
    def of(cls, api: ResolvedApi) -> BasicAuth:
        return cls(api.secret.get("username", b""), api.secret.get("password", b""))

    @property
    def identity(self) -> Hashable:
        return ("basic", self.username, digest(self.password))

    async def apply(self, request: Outgoing) -> None:
        request.headers[AUTHORIZATION] = basic_authorization(self.username, self.password)

    def invalidate(self) -> None:
        """Nothing is cached."""


@dataclass(frozen=True)
class CertificateGen:
    """The Secret's ``crt`` and ``key`` as the TLS client certificate of the call."""

    upstream: Upstream
    certificate: ClientCertificate
    skip_verify: bool

    @classmethod
    def of(cls, upstream: Upstream, api: ResolvedApi) -> CertificateGen:
        certificate = ClientCertificate(api.secret.get("crt", b""), api.secret.get("key", b""))
        return cls(upstream, certificate, api.skip_verify)

    @property
    def identity(self) -> Hashable:
        return ("certificate", digest(self.certificate.crt, self.certificate.key))

    async def apply(self, request: Outgoing) -> None:
        # Loads the key pair now (kept by the upstream for the call): a bad one is refused here with a 500,
        # "Failed to prepare certificate, ...", before anything is sent.
        self.upstream.ssl(skip_verify=self.skip_verify, certificate=self.certificate)
        request.certificate = self.certificate

    def invalidate(self) -> None:
        """Nothing is cached."""


def basic_authorization(username: bytes, password: bytes) -> str:
    return "Basic " + base64.b64encode(username + b":" + password).decode("ascii")
