"""The bundle domain's own inputs (bundles, API and event definitions, documents, auths): what the GraphQL layer
converts its inputs into. Field names are the GraphQL inputs' in snake case."""

from __future__ import annotations

from dataclasses import dataclass
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
class CredentialDataInput:
    """Exactly one of ``basic`` and ``oauth`` (the service refuses both or neither)."""

    basic: BasicCredentialDataInput | None = None
    oauth: OAuthCredentialDataInput | None = None


@dataclass(frozen=True)
class CSRFTokenCredentialRequestAuthInput:
    token_endpoint_url: str
    credential: CredentialDataInput | None = None
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


@dataclass(frozen=True)
class VersionInput:
    value: str
    deprecated: bool | None = False
    deprecated_since: str | None = None
    for_removal: bool | None = False


@dataclass(frozen=True)
class APISpecInput:
    type: APISpecType
    format: SpecFormat
    data: str | None = None


@dataclass(frozen=True)
class EventSpecInput:
    type: EventSpecType
    format: SpecFormat
    data: str | None = None


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


@dataclass(frozen=True)
class BundleUpdateInput:
    name: str
    description: str | None = None
    instance_auth_request_input_schema: str | None = None
    default_instance_auth: AuthInput | None = None
