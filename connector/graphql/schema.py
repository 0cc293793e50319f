"""The Connector schema: Compass's `configuration`, `signCertificateSigningRequest` and `revokeCertificate`."""

from __future__ import annotations

import strawberry
from graphql import GraphQLError
from strawberry import Info
from strawberry.types import ExecutionContext

from connector.graphql.context import ConnectorContext, TokenCredential
from connector.graphql.types import (
    CertificateSigningRequestInfo,
    CertificationResult,
    Configuration,
    ManagementPlaneInfo,
    Token,
)
from connector.service import ConnectionConfiguration
from kernel.graphql.limits import shared_extensions
from kernel.settings import Settings


def _configuration(config: ConnectionConfiguration) -> Configuration:
    return Configuration(
        token=Token(token=config.token),
        certificate_signing_request_info=CertificateSigningRequestInfo(
            subject=config.subject, key_algorithm=config.key_algorithm
        ),
        management_plane_info=ManagementPlaneInfo(
            director_url=config.director_url,
            certificate_secured_connector_url=config.certificate_secured_connector_url,
        ),
    )


@strawberry.type
class Query:
    @strawberry.field(
        description="With a one-time token: redeems it. With a client certificate: starts a renewal. "
        "Either way answers the CSR subject and a single-use token for signCertificateSigningRequest."
    )
    async def configuration(self, info: Info[ConnectorContext, None]) -> Configuration:
        context = info.context
        credential = context.require_credential()
        if isinstance(credential, TokenCredential):
            config = await context.service.configuration_for_token(credential.token, remote_addr=context.remote_addr)
        else:
            config = await context.service.configuration_for_certificate(credential, remote_addr=context.remote_addr)
        return _configuration(config)


@strawberry.type
class Mutation:
    @strawberry.mutation(
        description="Signs a base64 PEM CSR whose subject is exactly the announced one; over mTLS it renews."
    )
    async def sign_certificate_signing_request(self, info: Info[ConnectorContext, None], csr: str) -> CertificationResult:
        context = info.context
        credential = context.require_credential()
        if isinstance(credential, TokenCredential):
            result = await context.service.sign_with_token(credential.token, csr, remote_addr=context.remote_addr)
        else:
            result = await context.service.sign_with_certificate(credential, csr, remote_addr=context.remote_addr)
        return CertificationResult(
            certificate_chain=result.certificate_chain,
            ca_certificate=result.ca_certificate,
            client_certificate=result.client_certificate,
        )

    @strawberry.mutation(description="Revokes the client certificate the request was made with (mTLS only).")
    async def revoke_certificate(self, info: Info[ConnectorContext, None]) -> bool:
        context = info.context
        return await context.service.revoke(context.require_certificate(), remote_addr=context.remote_addr)


class ConnectorSchema(strawberry.Schema):
    def process_errors(self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None) -> None:
        """Refusals are answers, not incidents; ErrorCodes logs the unexpected ones."""


def build_schema(settings: Settings | None = None) -> strawberry.Schema:
    settings = settings or Settings()
    return ConnectorSchema(query=Query, mutation=Mutation, extensions=shared_extensions(settings, "connector"))
