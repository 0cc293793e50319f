"""An Application resource (applicationconnector.kyma-project.io/v1alpha1) as the data plane reads it.

Only what the gateway and the event ingress use is kept; ``dataplane.catalog.parse`` builds it, lenient about
missing optional fields, since resources written by hand are read as well.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

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
    description: str = ""
    # authCreateParameterSchema (the bundle's instanceAuthRequestInputSchema), decoded from the JSON text the
    # agent writes; None when the bundle has none. The broker offers it as a plan's provisioning parameters.
    auth_create_parameter_schema: Any = None


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
    # What the broker's catalog shows (Kyma's Application spec): the agent writes the description and
    # ``spec.labels``; the display names and tags only hand-written resources have.
    description: str = ""
    display_name: str = ""
    provider_display_name: str = ""
    long_description: str = ""
    tags: tuple[str, ...] = ()
    spec_labels: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ApplicationMapping:
    """An ApplicationMapping (namespaced, named after the Application): the Application is offered in the
    namespace. ``service_ids`` (``spec.services[].id``) are the services (bundles) offered there; None, when
    the list is absent, offers all of them (Kyma's rule)."""

    namespace: str
    name: str
    service_ids: frozenset[str] | None = None

    def offers(self, service_id: str) -> bool:
        return self.service_ids is None or service_id in self.service_ids
