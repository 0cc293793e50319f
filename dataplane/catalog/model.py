"""An Application resource (applicationconnector.kyma-project.io/v1alpha1) as the data plane reads it.

Only what the gateway and the event ingress use is kept; ``dataplane.catalog.parse`` builds it, lenient about
missing optional fields, since resources written by hand are read as well.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

# A Secret's data, base64-decoded (``stringData`` folded in, as the API server does).
SecretData = Mapping[str, bytes]


@dataclass(frozen=True)
class Credentials:
    """``entry.credentials``: how the gateway authenticates to the target."""

    type: str  # "Basic", "OAuth", "OAuthWithCert", "CertificateGen"; anything else means none
    secret_name: str
    authentication_url: str = ""
    csrf_token_endpoint_url: str = ""


@dataclass(frozen=True)
class Entry:
    type: str  # "API" or "Events"
    id: str
    name: str
    target_url: str = ""
    central_gateway_url: str = ""
    credentials: Credentials | None = None
    request_parameters_secret_name: str = ""


@dataclass(frozen=True)
class Service:
    id: str
    name: str
    display_name: str
    entries: tuple[Entry, ...] = ()


@dataclass(frozen=True)
class Application:
    name: str
    services: tuple[Service, ...] = ()
    skip_verify: bool = False
    encode_url: bool = False
    # compassMetadata.authentication.clientIds: the certificate CNs that may act for this application.
    client_ids: tuple[str, ...] = ()
    application_id: str = ""
    annotations: Mapping[str, str] = field(default_factory=dict)
    labels: Mapping[str, str] = field(default_factory=dict)
