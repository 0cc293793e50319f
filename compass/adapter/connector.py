"""The adapter's connector endpoints (``/v1/applications/...``, DATAPLANE.md D.3.2): the same token redemption,
CSR signing, renewal and revocation as the GraphQL Connector, answered in the REST API's bodies.

Token-secured calls (``signingRequests/info``, ``certificates``) take the one-time token from ``?token=`` or the
``Connector-Token`` header; the others the application's client certificate (directly or from a trusted proxy).
``compass.auth.middleware`` resolves either into ``scope["state"]["principal"]``; only applications are served.
The Remote Environment endpoints (``compass.adapter.remote_environments``) are built from the same pieces.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from compass.adapter.responses import INVALID_CREDENTIAL, AdapterResponse, error_response, refusal
from compass.adapter.transactions import write
from connector.graphql.context import TokenCredential
from connector.service import (
    KEY_ALGORITHM,
    CertificationResult,
    ConnectionConfiguration,
    ConnectorService,
    OwnerCheck,
)
from credentials.tokens import TokenType
from director.application.service import application as application_service
from director.eventing.service import application_url as events_url_at
from director.eventing.service import eventing as eventing_service
from director.systemauth.service import system_auth as system_auth_service
from kernel.db import Database
from kernel.errors import NotFoundError
from kernel.principal import CertificateIdentity, ClientKind
from kernel.settings import Settings

PREFIX = "/v1/applications"
INFO_PATH = f"{PREFIX}/signingRequests/info"
CERTIFICATES_PATH = f"{PREFIX}/certificates"
MANAGEMENT_INFO_PATH = f"{PREFIX}/management/info"
RENEWALS_PATH = f"{PREFIX}/certificates/renewals"
REVOCATIONS_PATH = f"{PREFIX}/certificates/revocations"
PATHS = frozenset({INFO_PATH, CERTIFICATES_PATH, MANAGEMENT_INFO_PATH, RENEWALS_PATH, REVOCATIONS_PATH})
# Compass's eventsInfoUrl: the event ingress's list of the application's subscribed events.
SUBSCRIBED_SUFFIX = "/subscribed"
# Kyma's connector-service: request headers naming the host[:port] the caller reaches the event ingress and the
# Application Registry at, put into the returned URLs instead of the configured ones.
EVENTS_HOST_HEADER = "EventsHost"
METADATA_HOST_HEADER = "MetadataHost"
_HOST_AND_PORT = re.compile(r"(?P<host>\[[^\]]*\]|[^:\[\]]*)(?::(?P<port>[0-9]{1,5}))?")
_DNS_LABEL = re.compile(r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)")
_MAX_HOST_LENGTH = 253
_MAX_PORT = 65535

Endpoint = Callable[[Request], Awaitable[Response]]
ResultBody = Callable[[CertificationResult], dict[str, str]]


class UnreadableRequestError(ValueError):
    """The body is not ``{"csr": "<string>"}``."""


class Refused(Exception):
    """A request already answered with the adapter's error body: the endpoint returns ``response``."""

    def __init__(self, response: Response) -> None:
        super().__init__(response.status_code)
        self.response = response


def answering(endpoint: Endpoint) -> Endpoint:
    """The endpoint, with a ``Refused`` raised anywhere in it answered."""

    async def answer(request: Request) -> Response:
        try:
            return await endpoint(request)
        except Refused as refused:
            return refused.response

    return answer


def is_host_and_port(value: str) -> bool:
    """``host``, ``host:port``, ``[v6]`` or ``[v6]:port``, a DNS name or an address: nothing that could steer the
    URL it goes into elsewhere (no scheme, user, path, query or fragment)."""
    match = _HOST_AND_PORT.fullmatch(value)
    if match is None or (match["port"] is not None and not 0 < int(match["port"]) <= _MAX_PORT):
        return False
    host = match["host"]
    if host.startswith("["):
        try:
            ipaddress.IPv6Address(host[1:-1])
        except ValueError:
            return False
        return True
    labels = host.removesuffix(".").split(".")
    return 0 < len(host) <= _MAX_HOST_LENGTH and all(_DNS_LABEL.fullmatch(label) for label in labels)


@dataclass(frozen=True)
class ApiHosts:
    """The optional ``EventsHost`` and ``MetadataHost`` request headers: each replaces the host and port of the
    events or metadata URL returned (scheme and path kept); ``None`` leaves the URL as configured."""

    events: str | None
    metadata: str | None

    @classmethod
    def of(cls, request: Request) -> ApiHosts:
        """Raises ``Refused`` (400) for a value that is not a host[:port]."""
        return cls(_host_header(request, EVENTS_HOST_HEADER), _host_header(request, METADATA_HOST_HEADER))


def _host_header(request: Request, name: str) -> str | None:
    value = request.headers.get(name)
    if value is not None and not is_host_and_port(value):
        raise Refused(error_response(400, f"the {name} header must be a host or host:port, not {value!r}"))
    return value


def _with_host(url: str, host: str | None) -> str:
    return urlsplit(url)._replace(netloc=host).geturl() if host else url


@dataclass(frozen=True)
class ApplicationView:
    """What the bodies tell of the application: its name as the Director normalizes it, its events URL (the
    default runtime's event ingress, "" without one) and the URL of its Application Registry."""

    name: str
    events_url: str
    metadata_url: str

    @property
    def events_info_url(self) -> str:
        return f"{self.events_url}{SUBSCRIBED_SUFFIX}" if self.events_url else ""


def certificate_info(subject: str) -> dict[str, str]:
    return {"subject": subject, "extensions": "", "key-algorithm": KEY_ALGORITHM}


def _full_result(result: CertificationResult) -> dict[str, str]:
    return {"crt": result.certificate_chain, "clientCrt": result.client_certificate, "caCrt": result.ca_certificate}


async def _signed(
    request: Request, sign: Callable[[str], Awaitable[CertificationResult]], body: ResultBody = _full_result
) -> Response:
    """Every signing endpoint alike: the body's CSR, signed (201 with ``body`` of the result) or refused."""
    try:
        csr = await _csr(request)
    except UnreadableRequestError as error:
        return _unreadable(error)
    try:
        result = await sign(csr)
    except Exception as error:  # noqa: BLE001 - every failure becomes the adapter's error body, none its traceback
        return refusal(error, "Failed to sign CSR")
    return AdapterResponse(body(result), status_code=201)


async def _csr(request: Request) -> str:
    """The CSR of the body, whitespace removed (PEM base64 wrapped over lines arrives so from some clients)."""
    try:
        body: Any = json.loads(await request.body())
    except ValueError as error:
        raise UnreadableRequestError(str(error)) from error
    if not isinstance(body, dict):
        raise UnreadableRequestError("the body must be a JSON object")
    csr = body.get("csr", "")
    if not isinstance(csr, str):
        raise UnreadableRequestError('"csr" must be a string')
    return "".join(csr.split())


def _remote_addr(request: Request) -> str | None:
    return request.client.host if request.client else None


def _token(request: Request) -> TokenCredential:
    credential = request.scope["state"].get("principal")
    if not isinstance(credential, TokenCredential):
        raise Refused(error_response(403, INVALID_CREDENTIAL))
    return credential


class ConnectorEndpoints:
    def __init__(self, connector: ConnectorService, database: Database, settings: Settings) -> None:
        self.connector = connector
        self.database = database
        self.settings = settings
        self.public_url = settings.effective_public_url
        self.mtls_url = settings.effective_public_mtls_url

    def routes(self) -> list[Route]:
        return [
            Route(INFO_PATH, answering(self.signing_request_info), methods=["GET"]),
            Route(CERTIFICATES_PATH, answering(self.certificates), methods=["POST"]),
            Route(MANAGEMENT_INFO_PATH, answering(self.management_info), methods=["GET"]),
            Route(RENEWALS_PATH, self.renewals, methods=["POST"]),
            Route(REVOCATIONS_PATH, self.revocations, methods=["POST"]),
        ]

    async def application(self, tenant_id: str, client_id: str, hosts: ApiHosts) -> ApplicationView:
        """The client's application in its tenant, and its eventing URL as the Director reads it (settling the
        default runtime when the labels do not say it yet, as ``eventingConfiguration`` does), under ``hosts``."""
        async with self.database.read_sessions() as session:
            auth = await system_auth_service.find(session, tenant_id, client_id)
            application_id = auth.application_id if auth is not None else None
            application = (
                await application_service.find(session, tenant_id, application_id) if application_id else None
            )
            if application is None:
                raise NotFoundError(f"client {client_id} belongs to no application")
            eventing = (await eventing_service.for_applications(session, tenant_id, [application.id]))[
                application.id
            ]
        if eventing.pending:
            settled = await write(
                self.database,
                self.settings,
                tenant_id,
                lambda session: eventing_service.settle(session, tenant_id, [application.id]),
                what="eventingConfiguration",
            )
            eventing = settled[application.id]
        name = application.normalized_name
        events_url = eventing.default_url
        if hosts.events is not None:
            # Without a default runtime the header alone says where the events go, as Kyma's connector-service.
            events_url = (
                _with_host(events_url, hosts.events) if events_url else events_url_at(f"//{hosts.events}", name)
            )
        metadata_url = _with_host(f"{self.mtls_url}/{name}/v1/metadata/services", hosts.metadata)
        return ApplicationView(name, events_url, metadata_url)

    async def redeem(
        self, request: Request, *, owner: OwnerCheck | None = None
    ) -> tuple[ConnectionConfiguration, ApplicationView]:
        """What every info endpoint does with the one-time token: the host headers checked first (a refusal spends
        nothing), the token redeemed (of a client ``owner`` accepts), its application read. Raises ``Refused``."""
        credential = _token(request)
        hosts = ApiHosts.of(request)
        try:
            configuration = await self.connector.configuration_for_token(
                credential.token,
                remote_addr=_remote_addr(request),
                types=(TokenType.APPLICATION.value,),
                owner=owner,
            )
        except Exception as error:  # noqa: BLE001 - every failure becomes the adapter's error body
            raise Refused(refusal(error, "Failed to get configuration from Connector")) from None
        try:
            application = await self.application(configuration.tenant_id, configuration.client_id, hosts)
        except Exception as error:  # noqa: BLE001 - as above
            raise Refused(refusal(error, "Failed to get application from Director")) from None
        return configuration, application

    async def sign_with_token(
        self, request: Request, *, body: ResultBody = _full_result, owner: OwnerCheck | None = None
    ) -> Response:
        """What every token-secured signing endpoint does: the signing token redeemed (of an application ``owner``
        accepts) for the body's CSR, answered with ``body`` of the result. Raises ``Refused``."""
        credential = _token(request)
        return await _signed(
            request,
            lambda csr: self.connector.sign_with_token(
                credential.token, csr, remote_addr=_remote_addr(request), kind=ClientKind.APPLICATION, owner=owner
            ),
            body,
        )

    async def signing_request_info(self, request: Request) -> Response:
        """Redeems the application's one-time token; ``csrUrl`` carries the signing token it buys."""
        configuration, application = await self.redeem(request)
        return AdapterResponse(
            {
                "csrUrl": f"{self.public_url}{CERTIFICATES_PATH}?token={configuration.token}",
                "api": {
                    "eventsInfoUrl": application.events_info_url,
                    "eventsUrl": application.events_url,
                    "metadataUrl": application.metadata_url,
                    "infoUrl": f"{self.mtls_url}{MANAGEMENT_INFO_PATH}",
                    "certificatesUrl": f"{self.public_url}{CERTIFICATES_PATH}",
                },
                "certificate": certificate_info(configuration.subject),
            }
        )

    async def certificates(self, request: Request) -> Response:
        return await self.sign_with_token(request)

    async def management_info(self, request: Request) -> Response:
        identity = application_certificate(request)
        if identity is None:
            return error_response(403, INVALID_CREDENTIAL)
        hosts = ApiHosts.of(request)
        try:
            application = await self.application(identity.tenant_id, identity.client_id, hosts)
        except Exception as error:  # noqa: BLE001 - as above
            return refusal(error, "Failed to get application from Director")
        subject = self.connector.subject_for(identity.client_id).to_compass_string()
        return AdapterResponse(
            {
                "clientIdentity": {"application": application.name},
                "urls": {
                    "eventsInfoUrl": application.events_info_url,
                    "eventsUrl": application.events_url,
                    "metadataUrl": application.metadata_url,
                    "renewCertUrl": f"{self.mtls_url}{RENEWALS_PATH}",
                    "revokeCertUrl": f"{self.mtls_url}{REVOCATIONS_PATH}",
                },
                "certificate": certificate_info(subject),
            }
        )

    async def renewals(self, request: Request) -> Response:
        identity = application_certificate(request)
        if identity is None:
            return error_response(403, INVALID_CREDENTIAL)
        return await _signed(
            request,
            lambda csr: self.connector.sign_with_certificate(
                identity, csr, remote_addr=_remote_addr(request)
            ),
        )

    async def revocations(self, request: Request) -> Response:
        identity = application_certificate(request)
        if identity is None:
            return error_response(403, INVALID_CREDENTIAL)
        try:
            await self.connector.revoke(identity, remote_addr=_remote_addr(request))
        except Exception as error:  # noqa: BLE001 - as above
            return refusal(error, "Failed to revoke certificate")
        return AdapterResponse(None, status_code=201)


def application_certificate(request: Request) -> CertificateIdentity | None:
    identity = request.scope["state"].get("principal")
    if isinstance(identity, CertificateIdentity) and identity.kind == ClientKind.APPLICATION:
        return identity
    return None


def _unreadable(error: UnreadableRequestError) -> AdapterResponse:
    return error_response(
        400, f"Failed to read certificate request: error while unmarshalling request body: {error}"
    )
