"""The oldest form of the REST API: Kyma's "Application Connector" of the Remote Environment era (DATAPLANE.md D.1,
the seed's first tutorial). An operator asks ``POST /v1/remoteenvironments/{name}/tokens`` for an info URL with a
one-time token; the application GETs it (``csrUrl``, the URLs of the APIs, the subject of its certificate), POSTs
its CSR to ``client-certs`` and gets ``{"crt": "<base64 chain>"}``.

A remote environment is an application of the operator's tenant, known by its normalized name. Its tokens are
``requestOneTimeTokenForApplication``'s, redeemed and signed by the connector endpoints' code
(``compass.adapter.connector``), and valid only at the remote environment they were issued for.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from compass.adapter.connector import ConnectorEndpoints, answering, certificate_info
from compass.adapter.responses import AdapterResponse, operator_refusal
from compass.adapter.transactions import write
from connector.errors import InvalidTokenError
from connector.service import CertificationResult, ConnectorService, OwnerCheck
from credentials.models import SystemAuth
from director.application.service import application as application_service
from director.normalization import normalize_name
from director.systemauth.inputs import TokenPolicy
from director.systemauth.service import IssuedToken
from director.systemauth.service import system_auth as system_auth_service
from kernel.db import Database
from kernel.errors import ForbiddenError, NotFoundError, UnauthenticatedError
from kernel.principal import OperatorPrincipal, Scope
from kernel.settings import Settings

PREFIX = "/v1/remoteenvironments"


def _not_found(name: str) -> str:
    normalized = normalize_name(name)
    hint = f" (an application registered as {name!r} is {normalized!r})" if normalized != name else ""
    return (
        f"remote environment {name!r} not found in your tenant: a remote environment is an application, named as "
        f"the Director normalizes its name{hint}; register one with the Director's registerApplication mutation"
    )


def _of_remote_environment(name: str) -> OwnerCheck:
    """Accepts the tokens of the application ``name`` only: a token is valid at its own remote environment."""

    async def check(session: AsyncSession, auth: SystemAuth) -> None:
        application = (
            await application_service.find(session, auth.tenant_id, auth.application_id)
            if auth.application_id and auth.tenant_id  # an application's system auth always has its tenant
            else None
        )
        if application is None or application.normalized_name != name:
            raise InvalidTokenError(f"the token is not valid here: it is not one of remote environment {name!r}")

    return check


def _operator(request: Request) -> OperatorPrincipal:
    """The caller, holding the scope of ``requestOneTimeTokenForApplication``."""
    principal = request.scope["state"].get("principal")
    if not isinstance(principal, OperatorPrincipal):  # the middleware lets only operators in
        raise UnauthenticatedError("send Authorization: Bearer <JWT> (see `compass token`)")
    if not principal.has_scope(Scope.APPLICATION_WRITE):
        raise ForbiddenError(f"missing scope {str(Scope.APPLICATION_WRITE)!r}")
    return principal


def _chain(result: CertificationResult) -> dict[str, str]:
    """Kyma's answer since October 2018 (kyma#894): the client certificate, then the CA's, in one base64 PEM."""
    return {"crt": result.certificate_chain}


class RemoteEnvironmentEndpoints:
    def __init__(self, connector: ConnectorService, database: Database, settings: Settings) -> None:
        self.adapter = ConnectorEndpoints(connector, database, settings)
        self.connector = connector
        self.database = database
        self.settings = settings

    def routes(self) -> list[Route]:
        return [
            Route(f"{PREFIX}/{{name}}/tokens", self.tokens, methods=["POST"]),
            Route(f"{PREFIX}/{{name}}/info", answering(self.info), methods=["GET"]),
            Route(f"{PREFIX}/{{name}}/client-certs", answering(self.client_certs), methods=["POST"]),
        ]

    def _url(self, name: str) -> str:
        """The remote environment's base URL: Kyma's ``certificatesUrl``, the prefix of its other URLs."""
        return f"{self.settings.effective_public_url}{PREFIX}/{name}"

    async def tokens(self, request: Request) -> Response:
        """An operator's request for the info URL of the application ``name`` of its tenant (201), as
        ``requestOneTimeTokenForApplication`` with its scope."""
        try:
            issued = await self._issue(_operator(request).tenant_id, request.path_params["name"])
        except Exception as error:  # noqa: BLE001 - every failure becomes the adapter's error body
            return operator_refusal(error, "Failed to request a token")
        return AdapterResponse({"url": issued.legacy_connector_url, "token": issued.token}, status_code=201)

    async def _issue(self, tenant_id: str, name: str) -> IssuedToken:
        async def issue(session: AsyncSession) -> IssuedToken:
            application = await application_service.find_by_normalized_name(session, tenant_id, name)
            if application is None:
                raise NotFoundError(_not_found(name))
            info_url = f"{self._url(application.normalized_name)}/info"
            policy = TokenPolicy.of(self.settings, legacy_connector_url=info_url)
            return await system_auth_service.request_application_token(
                session, tenant_id, application.id, None, policy=policy, now=self.connector.clock()
            )

        return await write(self.database, self.settings, tenant_id, issue, what="remote environment token")

    async def info(self, request: Request) -> Response:
        """Redeems the token of the remote environment's application; ``csrUrl`` carries the signing token."""
        name = request.path_params["name"]
        configuration, application = await self.adapter.redeem(request, owner=_of_remote_environment(name))
        return AdapterResponse(
            {
                "csrUrl": f"{self._url(name)}/client-certs?token={configuration.token}",
                "api": {
                    "metadataUrl": application.metadata_url,
                    "eventsUrl": application.events_url,
                    "certificatesUrl": self._url(name),
                },
                "certificate": certificate_info(configuration.subject),
            }
        )

    async def client_certs(self, request: Request) -> Response:
        owner = _of_remote_environment(request.path_params["name"])
        return await self.adapter.sign_with_token(request, body=_chain, owner=owner)
