from __future__ import annotations

import strawberry


@strawberry.type(description="A single-use token for the next call.")
class Token:
    token: str


@strawberry.type(description="What the certificate signing request must carry.")
class CertificateSigningRequestInfo:
    subject: str = strawberry.field(description="O=...,OU=...,L=...,ST=...,C=...,CN=<client id>, in this order.")
    key_algorithm: str = strawberry.field(description="rsa2048: the minimum; larger RSA keys and EC P-256/P-384 work.")


@strawberry.type(description="Where to go with the certificate.")
class ManagementPlaneInfo:
    director_url: str | None = strawberry.field(name="directorURL", description="The Director's mTLS URL.")
    certificate_secured_connector_url: str | None = strawberry.field(
        name="certificateSecuredConnectorURL", description="The Connector's mTLS URL, for renewal."
    )


@strawberry.type(description="Everything a client needs to request its certificate.")
class Configuration:
    token: Token | None
    certificate_signing_request_info: CertificateSigningRequestInfo | None
    management_plane_info: ManagementPlaneInfo | None


@strawberry.type(description="Base64 (standard alphabet) of PEM.")
class CertificationResult:
    certificate_chain: str = strawberry.field(description="The client certificate followed by the CA chain.")
    ca_certificate: str
    client_certificate: str
