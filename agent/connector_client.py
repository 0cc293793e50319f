"""The agent's Connector client: ``configuration``, ``signCertificateSigningRequest``, ``revokeCertificate``.

With a one-time token at ``CONNECTOR_URL`` (header ``Connector-Token``), or over mTLS at the
``certificateSecuredConnectorURL`` with the agent's certificate (the server verified against the CA that the
Connector handed out).
Refusals become typed exceptions carrying the GraphQL ``extensions.code``; every request carries an
``x-request-id`` that is logged with its outcome.
"""

from __future__ import annotations

import base64
import ssl
import uuid
from dataclasses import dataclass
from typing import Any, Self

import httpx
import structlog

from agent.errors import AgentError
from agent.state import Credentials

log = structlog.get_logger(__name__)

REQUEST_ID_HEADER = "x-request-id"
TOKEN_HEADER = "Connector-Token"

CONFIGURATION = (
    "query { result: configuration { token { token } certificateSigningRequestInfo { subject keyAlgorithm } "
    "managementPlaneInfo { directorURL certificateSecuredConnectorURL } } }"
)
SIGN = (
    "mutation ($csr: String!) { result: signCertificateSigningRequest(csr: $csr) "
    "{ certificateChain caCertificate clientCertificate } }"
)
REVOKE = "mutation { result: revokeCertificate }"

TOKEN_CODES = frozenset({"INVALID_TOKEN", "TOKEN_ALREADY_USED", "TOKEN_EXPIRED"})


class ConnectorError(AgentError):
    """A Connector call that did not succeed; ``code`` is the Connector's, or one of ours in lower case."""

    code: str

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}", code=code)
        self.message = message


class Unreachable(ConnectorError):
    """No usable answer: refused, timed out, a TLS failure not about our certificate, 5xx without GraphQL."""


class TokenRejected(ConnectorError):
    """INVALID_TOKEN, TOKEN_ALREADY_USED or TOKEN_EXPIRED: only a new token helps."""


class CertificateRevoked(ConnectorError):
    """CERTIFICATE_REVOKED, or a TLS peer refusing the certificate as revoked."""


class CertificateRefused(ConnectorError):
    """The certificate is no longer accepted (unknown, its runtime gone, expired): as good as revoked."""


class ConnectorRefused(ConnectorError):
    """Any other refusal: RATE_LIMITED, CERTIFICATE_LIMIT_REACHED, CSR_*…"""


@dataclass(frozen=True)
class Configuration:
    token: str
    subject: str
    key_algorithm: str
    director_url: str
    certificate_secured_connector_url: str


@dataclass(frozen=True)
class Certification:
    certificate_chain: bytes
    ca_certificate: bytes
    client_certificate: bytes


def mtls_context(credentials: Credentials, chain_file: str, key_file: str) -> ssl.SSLContext:
    """Trusts exactly the CA the Connector handed out and presents the agent's certificate."""
    context = ssl.create_default_context(cadata=credentials.ca_pem.decode())
    context.load_cert_chain(chain_file, key_file)
    return context


def _tls_refusal(error: BaseException) -> ConnectorError | None:
    """A TLS alert about our certificate, found anywhere in the cause chain of a transport error."""
    current: BaseException | None = error
    while current is not None:
        if isinstance(current, ssl.SSLError):
            reason = getattr(current, "reason", None) or ""
            text = f"{reason} {current}".upper()
            if "REVOKED" in text:
                return CertificateRevoked("tls_certificate_revoked", str(current))
            if any(alert in text for alert in ("CERTIFICATE_EXPIRED", "BAD_CERTIFICATE", "UNKNOWN_CA")):
                return CertificateRefused("tls_certificate_refused", str(current))
        current = current.__cause__ or current.__context__
    return None


class ConnectorClient:
    """One Connector endpoint, with a token (``for_token``) or a client certificate (``for_certificate``)."""

    def __init__(
        self, url: str, *, timeout: float, verify: ssl.SSLContext | bool = True, mtls: bool = False
    ) -> None:
        self.url = url
        self.mtls = mtls
        self._client = httpx.AsyncClient(timeout=timeout, verify=verify)

    @classmethod
    def for_token(cls, url: str, *, timeout: float) -> ConnectorClient:
        return cls(url, timeout=timeout)

    @classmethod
    def for_certificate(
        cls, url: str, credentials: Credentials, *, chain_file: str, key_file: str, timeout: float
    ) -> ConnectorClient:
        return cls(url, timeout=timeout, verify=mtls_context(credentials, chain_file, key_file), mtls=True)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._client.aclose()

    async def configuration(self, token: str | None = None) -> Configuration:
        result = await self._call("configuration", CONFIGURATION, token=token)
        info, plane = result["certificateSigningRequestInfo"], result["managementPlaneInfo"]
        return Configuration(
            token=result["token"]["token"],
            subject=info["subject"],
            key_algorithm=info["keyAlgorithm"],
            director_url=plane["directorURL"],
            certificate_secured_connector_url=plane["certificateSecuredConnectorURL"],
        )

    async def sign(self, csr_pem: bytes, token: str | None = None) -> Certification:
        csr = base64.b64encode(csr_pem).decode("ascii")
        result = await self._call("sign", SIGN, variables={"csr": csr}, token=token)
        try:
            return Certification(
                certificate_chain=base64.b64decode(result["certificateChain"], validate=True),
                ca_certificate=base64.b64decode(result["caCertificate"], validate=True),
                client_certificate=base64.b64decode(result["clientCertificate"], validate=True),
            )
        except (ValueError, TypeError, KeyError) as error:
            raise ConnectorRefused("invalid_answer", f"the certificates are not base64: {error}") from error

    async def revoke(self) -> bool:
        return bool(await self._call("revoke", REVOKE))

    async def _call(
        self,
        operation: str,
        document: str,
        *,
        variables: dict[str, Any] | None = None,
        token: str | None = None,
    ) -> Any:
        request_id = uuid.uuid4().hex
        headers = {REQUEST_ID_HEADER: request_id}
        if token is not None:
            headers[TOKEN_HEADER] = token
        bound = log.bind(operation=operation, request_id=request_id, url=self.url, mtls=self.mtls)
        try:
            body = {"query": document, "variables": variables}
            response = await self._client.post(self.url, json=body, headers=headers)
        except httpx.TransportError as error:
            refusal = _tls_refusal(error) if self.mtls else None
            failure = refusal or Unreachable("unreachable", f"{type(error).__name__}: {error}".rstrip(": "))
            bound.warning("connector_call_failed", code=failure.code, error=failure.message)
            raise failure from error
        refusal = self._failure(response)
        if refusal is not None:
            bound.warning(
                "connector_call_refused",
                status=response.status_code,
                code=refusal.code,
                error=refusal.message,
            )
            raise refusal
        bound.info("connector_call", status=response.status_code)
        return response.json()["data"]["result"]

    def _failure(self, response: httpx.Response) -> ConnectorError | None:  # noqa: PLR0911 - one return per kind of answer
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            return Unreachable("bad_answer", f"HTTP {response.status_code} without a GraphQL answer")
        errors = body.get("errors") or []
        if not errors:
            data = body.get("data")
            if response.is_success and isinstance(data, dict) and data.get("result") is not None:
                return None
            return Unreachable("bad_answer", f"HTTP {response.status_code} without a result")
        first = errors[0] if isinstance(errors[0], dict) else {}
        code = str((first.get("extensions") or {}).get("code") or "UNKNOWN")
        message = str(first.get("message") or "")
        if code in TOKEN_CODES:
            return TokenRejected(code, message)
        if code == "CERTIFICATE_REVOKED":
            return CertificateRevoked(code, message)
        if code == "UNAUTHENTICATED" and self.mtls:
            return CertificateRefused(code, message)
        if response.is_server_error:
            return Unreachable(code, message)
        return ConnectorRefused(code, message)
