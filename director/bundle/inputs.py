"""The bundle domain's own inputs (bundles, API and event definitions, documents, auths): what the GraphQL layer
converts its inputs into. Field names are the GraphQL inputs' in snake case."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Any


class APISpecType(Enum):
    ODATA = "ODATA"
    OPEN_API = "OPEN_API"


class EventSpecType(Enum):
    ASYNC_API = "ASYNC_API"


class SpecFormat(Enum):
    YAML = "YAML"
    JSON = "JSON"
    XML = "XML"


class DocumentFormat(Enum):
    MARKDOWN = "MARKDOWN"


class FetchMode(Enum):
    SINGLE = "SINGLE"
    BUNDLE = "BUNDLE"
    INDEX = "INDEX"


class FetchRequestStatusCondition(Enum):
    INITIAL = "INITIAL"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"


@dataclass(frozen=True)
class BasicCredentialDataInput:
    username: str
    password: str


@dataclass(frozen=True)
class OAuthCredentialDataInput:
    client_id: str
    client_secret: str
    url: str


@dataclass(frozen=True)
class CertificateOAuthCredentialDataInput:
    """OAuth 2.0 client credentials where the client authenticates with a certificate (mTLS)."""

    client_id: str
    certificate: str
    url: str


@dataclass(frozen=True)
class CredentialDataInput:
    """Exactly one of ``basic``, ``oauth`` and ``certificate_oauth`` (the service refuses more or none)."""

    basic: BasicCredentialDataInput | None = None
    oauth: OAuthCredentialDataInput | None = None
    certificate_oauth: CertificateOAuthCredentialDataInput | None = None


@dataclass(frozen=True)
class CSRFTokenCredentialRequestAuthInput:
    """Headers and query parameters come as objects or serialized (JSON text), not both."""

    token_endpoint_url: str
    credential: CredentialDataInput | None = None
    additional_headers: Any = None
    additional_query_params: Any = None
    additional_headers_serialized: str | None = None
    additional_query_params_serialized: str | None = None


@dataclass(frozen=True)
class CredentialRequestAuthInput:
    csrf: CSRFTokenCredentialRequestAuthInput | None = None


@dataclass(frozen=True)
class AuthInput:
    """Headers and query parameters come as objects or serialized (JSON text), not both."""

    credential: CredentialDataInput | None = None
    additional_headers: Any = None
    additional_query_params: Any = None
    additional_headers_serialized: str | None = None
    additional_query_params_serialized: str | None = None
    request_auth: CredentialRequestAuthInput | None = None
    access_strategy: str | None = None
    cert_common_name: str | None = None
    one_time_token: OneTimeTokenInput | None = None


@dataclass(frozen=True)
class OneTimeTokenInput:
    """A token as another Compass exported it; accepted, but only a system auth would keep it (see auth_record)."""

    token: str
    used: bool
    expires_at: datetime
    created_at: datetime
    used_at: datetime
    connector_url: str | None = None
    raw: str | None = None
    raw_encoded: str | None = None
    type: str | None = None


@dataclass(frozen=True)
class VersionInput:
    value: str
    deprecated: bool | None = False
    deprecated_since: str | None = None
    for_removal: bool | None = False


@dataclass(frozen=True)
class FetchedSpec:
    """What fetching a spec came to; attached to its ``FetchRequestInput`` before the unit of work opens
    (``director.fetchrequest.service.prefetch``), so no transaction is held during the network I/O."""

    condition: FetchRequestStatusCondition
    timestamp: datetime
    message: str | None = None
    data: str | None = None


@dataclass(frozen=True)
class FetchRequestInput:
    """Where a spec or document is fetched from when it comes without data. ``fetched`` is not a GraphQL field:
    it is the outcome of the fetch, made before the write; without it the request is stored as INITIAL."""

    url: str
    auth: AuthInput | None = None
    mode: FetchMode | None = FetchMode.SINGLE
    filter: str | None = None
    fetched: FetchedSpec | None = None


@dataclass(frozen=True)
class APISpecInput:
    type: APISpecType
    format: SpecFormat
    data: str | None = None
    fetch_request: FetchRequestInput | None = None


@dataclass(frozen=True)
class EventSpecInput:
    type: EventSpecType
    format: SpecFormat
    data: str | None = None
    fetch_request: FetchRequestInput | None = None


@dataclass(frozen=True)
class APIDefinitionInput:
    name: str
    target_url: str
    description: str | None = None
    group: str | None = None
    spec: APISpecInput | None = None
    version: VersionInput | None = None


@dataclass(frozen=True)
class EventDefinitionInput:
    name: str
    description: str | None = None
    spec: EventSpecInput | None = None
    group: str | None = None
    version: VersionInput | None = None


@dataclass(frozen=True)
class DocumentInput:
    title: str
    display_name: str
    description: str
    format: DocumentFormat
    kind: str | None = None
    data: str | None = None
    fetch_request: FetchRequestInput | None = None


@dataclass(frozen=True)
class BundleCreateInput:
    """A bundle with its definitions, created in one call; ``instance_auth_request_input_schema`` is JSON text."""

    name: str
    description: str | None = None
    instance_auth_request_input_schema: str | None = None
    default_instance_auth: AuthInput | None = None
    api_definitions: tuple[APIDefinitionInput, ...] | None = None
    event_definitions: tuple[EventDefinitionInput, ...] | None = None
    documents: tuple[DocumentInput, ...] | None = None
    correlation_ids: tuple[str, ...] | None = None


@dataclass(frozen=True)
class BundleUpdateInput:
    name: str
    description: str | None = None
    instance_auth_request_input_schema: str | None = None
    default_instance_auth: AuthInput | None = None
