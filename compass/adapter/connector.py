"""The adapter's connector endpoints (``/v1/applications/...``, DATAPLANE.md D.3.2): the same token redemption,
CSR signing, renewal and revocation as the GraphQL Connector, answered in the REST API's bodies.

Token-secured calls (``signingRequests/info``, ``certificates``) take the one-time token from ``?token=`` or the
``Connector-Token`` header; the others the application's client certificate (directly or from a trusted proxy).
``compass.auth.middleware`` resolves either into ``scope["state"]["principal"]``; only applications are served.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from compass.adapter.responses import INVALID_CREDENTIAL, AdapterResponse, error_response, refusal
from connector.graphql.context import TokenCredential
from connector.service import KEY_ALGORITHM, CertificationResult, ConnectorService
from credentials.tokens import TokenType
from director.application.service import application as application_service
from director.eventing.service import eventing as eventing_service
from director.polling.invalidation import unit_of_work
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


class UnreadableRequestError(ValueError):
    """The body is not ``{"csr": "<string>"}``."""


@dataclass(frozen=True)
class ApplicationView:
    """What the bodies tell of the application: its name as the Director normalizes it, and its events URL."""

    name: str
    events_url: str

    @property
    def events_info_url(self) -> str:
        return f"{self.events_url}{SUBSCRIBED_SUFFIX}" if self.events_url else ""


def _certificate_info(subject: str) -> dict[str, str]:
    return {"subject": subject, "extensions": "", "key-algorithm": KEY_ALGORITHM}


async def _signed(request: Request, sign: Callable[[str], Awaitable[CertificationResult]]) -> Response:
    """``POST /certificates`` and ``/certificates/renewals`` alike: the body's CSR, signed (201) or refused."""
    try:
        csr = await _csr(request)
    except UnreadableRequestError as error:
        return _unreadable(error)
    try:
        result = await sign(csr)
    except Exception as error:  # noqa: BLE001 - every failure becomes the adapter's error body, none its traceback
        return refusal(error, "Failed to sign CSR")
    return AdapterResponse(
        {
            "crt": result.certificate_chain,
            "clientCrt": result.client_certificate,
            "caCrt": result.ca_certificate,
        },
        status_code=201,
    )


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


class ConnectorEndpoints:
    def __init__(self, connector: ConnectorService, database: Database, settings: Settings) -> None:
        self.connector = connector
        self.database = database
        self.public_url = settings.effective_public_url
        self.mtls_url = settings.effective_public_mtls_url

    def routes(self) -> list[Route]:
        return [
            Route(INFO_PATH, self.signing_request_info, methods=["GET"]),
            Route(CERTIFICATES_PATH, self.certificates, methods=["POST"]),
            Route(MANAGEMENT_INFO_PATH, self.management_info, methods=["GET"]),
            Route(RENEWALS_PATH, self.renewals, methods=["POST"]),
            Route(REVOCATIONS_PATH, self.revocations, methods=["POST"]),
        ]

    async def _application(self, tenant_id: str, client_id: str) -> ApplicationView:
        """The client's application in its tenant, and its eventing URL as the Director reads it (settling the
        default runtime when the labels do not say it yet, as ``eventingConfiguration`` does)."""
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
            async with unit_of_work(self.database, tenant_id) as session:
                eventing = (await eventing_service.settle(session, tenant_id, [application.id]))[
                    application.id
                ]
        return ApplicationView(application.normalized_name, eventing.default_url)

    def _metadata_url(self, application: ApplicationView) -> str:
        return f"{self.mtls_url}/{application.name}/v1/metadata/services"

    async def signing_request_info(self, request: Request) -> Response:
        """Redeems the application's one-time token; ``csrUrl`` carries the signing token it buys."""
        credential = request.scope["state"].get("principal")
        if not isinstance(credential, TokenCredential):
            return error_response(403, INVALID_CREDENTIAL)
        try:
            configuration = await self.connector.configuration_for_token(
                credential.token, remote_addr=_remote_addr(request), types=(TokenType.APPLICATION.value,)
            )
        except Exception as error:  # noqa: BLE001 - every failure becomes the adapter's error body
            return refusal(error, "Failed to get configuration from Connector")
        try:
            application = await self._application(configuration.tenant_id, configuration.client_id)
        except Exception as error:  # noqa: BLE001 - as above
            return refusal(error, "Failed to get application from Director")
        return AdapterResponse(
            {
                "csrUrl": f"{self.public_url}{CERTIFICATES_PATH}?token={configuration.token}",
                "api": {
                    "eventsInfoUrl": application.events_info_url,
                    "eventsUrl": application.events_url,
                    "metadataUrl": self._metadata_url(application),
                    "infoUrl": f"{self.mtls_url}{MANAGEMENT_INFO_PATH}",
                    "certificatesUrl": f"{self.public_url}{CERTIFICATES_PATH}",
                },
                "certificate": _certificate_info(configuration.subject),
            }
        )

    async def certificates(self, request: Request) -> Response:
        credential = request.scope["state"].get("principal")
        if not isinstance(credential, TokenCredential):
            return error_response(403, INVALID_CREDENTIAL)
        return await _signed(
            request,
            lambda csr: self.connector.sign_with_token(
                credential.token, csr, remote_addr=_remote_addr(request), kind=ClientKind.APPLICATION
            ),
        )

    async def management_info(self, request: Request) -> Response:
        identity = _application_certificate(request)
        if identity is None:
            return error_response(403, INVALID_CREDENTIAL)
        try:
            application = await self._application(identity.tenant_id, identity.client_id)
        except Exception as error:  # noqa: BLE001 - as above
            return refusal(error, "Failed to get application from Director")
        subject = self.connector.subject_for(identity.client_id).to_compass_string()
        return AdapterResponse(
            {
                "clientIdentity": {"application": application.name},
                "urls": {
                    "eventsInfoUrl": application.events_info_url,
                    "eventsUrl": application.events_url,
                    "metadataUrl": self._metadata_url(application),
                    "renewCertUrl": f"{self.mtls_url}{RENEWALS_PATH}",
                    "revokeCertUrl": f"{self.mtls_url}{REVOCATIONS_PATH}",
                },
                "certificate": _certificate_info(subject),
            }
        )

    async def renewals(self, request: Request) -> Response:
        identity = _application_certificate(request)
        if identity is None:
            return error_response(403, INVALID_CREDENTIAL)
        return await _signed(
            request,
            lambda csr: self.connector.sign_with_certificate(
                identity, csr, remote_addr=_remote_addr(request)
            ),
        )

    async def revocations(self, request: Request) -> Response:
        identity = _application_certificate(request)
        if identity is None:
            return error_response(403, INVALID_CREDENTIAL)
        try:
            await self.connector.revoke(identity, remote_addr=_remote_addr(request))
        except Exception as error:  # noqa: BLE001 - as above
            return refusal(error, "Failed to revoke certificate")
        return AdapterResponse(None, status_code=201)


def _application_certificate(request: Request) -> CertificateIdentity | None:
    identity = request.scope["state"].get("principal")
    if isinstance(identity, CertificateIdentity) and identity.kind == ClientKind.APPLICATION:
        return identity
    return None


def _unreadable(error: UnreadableRequestError) -> AdapterResponse:
    return error_response(
        400, f"Failed to read certificate request: error while unmarshalling request body: {error}"
    )
