"""The Application Registry's legacy *service* (``ServiceDetails``, DATAPLANE.md D.2 and D.3.4): read from a request
body as Go's decoder reads it, checked with the messages Compass's adapter answers, turned into the one bundle it
becomes, and told back from that bundle.

The service's ``identifier`` is kept in its entry of the application's label ``legacy_servicesMetadata``. An API
given by ``specificationUrl`` (or an OData API without a spec: its ``<targetUrl>/$metadata``) gets a spec with a
fetch request, as Compass's adapter makes it: the Director fetches the spec (``director.fetchrequest``), with the
``specificationCredentials`` and ``specificationRequestParameters`` as the fetch request's auth, and GET answers
them and ``specificationUrl`` from the fetch request (runtimes, which read the label, cannot read its auth).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator

from director.bundle.inputs import (
    APIDefinitionInput,
    APISpecInput,
    APISpecType,
    AuthInput,
    BasicCredentialDataInput,
    BundleCreateInput,
    CredentialDataInput,
    CredentialRequestAuthInput,
    CSRFTokenCredentialRequestAuthInput,
    DocumentFormat,
    DocumentInput,
    EventDefinitionInput,
    EventSpecInput,
    EventSpecType,
    FetchRequestInput,
    OAuthCredentialDataInput,
    SpecFormat,
)
from director.models import APIDefinition, Bundle, Document, EventDefinition, FetchRequest
from director.validation import optional_url
from kernel.errors import CompassError, InvalidInputError

LABEL_KEY = "legacy_servicesMetadata"
# Compass's converter: an OData API without a specification URL publishes its metadata document here.
ODATA_METADATA_PATH = "/$metadata"
# What Compass answers for the documentation it does not keep (only the documents are kept).
DOCUMENTATION = {"displayName": "ServiceDocumentation", "description": "Documents for legacy Service", "type": ""}
DOCUMENT_TYPE = ".md"
# Compass's isXML looks for the opening and closing bracket in this many leading characters.
XML_SNIFF_LENGTH = 512


class UnreadableServiceError(ValueError):
    """The body is not a ``ServiceDetails`` as Go's decoder reads one."""


class InvalidServiceError(ValueError):
    """The service breaks one of the Application Registry's rules; the message is Compass's."""


def _null_is_empty(value: object) -> object:
    """Go leaves a field as it was for a JSON null: a string that is null is empty."""
    return "" if value is None else value


Text = Annotated[str, BeforeValidator(_null_is_empty)]
StringLists = dict[str, list[str]]


class _Legacy(BaseModel):
    """Go's decoding: unknown keys are ignored, a key matches its field's name in any case (the exact name
    first, and the last of several wins), and no value is coerced into another type."""

    model_config = ConfigDict(strict=True, frozen=True)

    @model_validator(mode="before")
    @classmethod
    def _keys_in_any_case(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        names = {field.alias or name for name, field in cls.model_fields.items()}
        folded = {name.casefold(): name for name in names}
        return {key if key in names else folded.get(key.casefold(), key): value for key, value in data.items()}


class RequestParameters(_Legacy):
    headers: StringLists | None = None
    query_parameters: StringLists | None = Field(None, alias="queryParameters")


class BasicAuth(_Legacy):
    username: Text = ""
    password: Text = ""


class OAuth(_Legacy):
    url: Text = ""
    client_id: Text = Field("", alias="clientId")
    client_secret: Text = Field("", alias="clientSecret")
    # Accepted, as by Compass's adapter, and not used: a bundle's OAuth credential has no request parameters.
    request_parameters: RequestParameters | None = Field(None, alias="requestParameters")


class CSRFInfo(_Legacy):
    token_endpoint_url: Text = Field("", alias="tokenEndpointURL")


class BasicWithCSRF(BasicAuth):
    csrf_info: CSRFInfo | None = Field(None, alias="csrfInfo")


class OAuthWithCSRF(OAuth):
    csrf_info: CSRFInfo | None = Field(None, alias="csrfInfo")


class CertificateGenWithCSRF(_Legacy):
    """Accepted and ignored, as by Compass's adapter: the Director generates no certificates for APIs."""

    common_name: Text = Field("", alias="commonName")
    certificate: Text = ""
    csrf_info: CSRFInfo | None = Field(None, alias="csrfInfo")


class Credentials(_Legacy):
    oauth: OAuth | None = None
    basic: BasicAuth | None = None


class CredentialsWithCSRF(_Legacy):
    oauth: OAuthWithCSRF | None = None
    basic: BasicWithCSRF | None = None
    certificate_gen: CertificateGenWithCSRF | None = Field(None, alias="certificateGen")


class API(_Legacy):
    target_url: Text = Field("", alias="targetUrl")
    credentials: CredentialsWithCSRF | None = None
    spec: Any = None
    specification_url: Text = Field("", alias="specificationUrl")
    api_type: Text = Field("", alias="apiType")
    request_parameters: RequestParameters | None = Field(None, alias="requestParameters")
    specification_credentials: Credentials | None = Field(None, alias="specificationCredentials")
    specification_request_parameters: RequestParameters | None = Field(None, alias="specificationRequestParameters")
    # The oldest clients' request parameters; ``requestParameters`` overrides them.
    headers: StringLists | None = None
    query_parameters: StringLists | None = Field(None, alias="queryParameters")

    @property
    def is_odata(self) -> bool:
        return self.api_type.lower() == "odata"

    @property
    def fetches_specification(self) -> bool:
        """No inline spec, but where to fetch one (Compass's converter makes it a spec fetch request)."""
        return self.spec is None and bool(
            self.specification_url
            or self.specification_credentials is not None
            or self.specification_request_parameters is not None
            or self.is_odata
        )


class Events(_Legacy):
    spec: Any = None


class DocsObject(_Legacy):
    title: Text = ""
    kind: Text = Field("", alias="type")
    source: Text = ""


class Documentation(_Legacy):
    display_name: Text = Field("", alias="displayName")
    description: Text = ""
    kind: Text = Field("", alias="type")
    tags: list[str] | None = None
    docs: list[DocsObject] | None = None


class ServiceDetails(_Legacy):
    provider: Text = ""
    name: Text = ""
    description: Text = ""
    short_description: Text = Field("", alias="shortDescription")
    identifier: Text = ""
    labels: dict[str, str] | None = None
    api: API | None = None
    events: Events | None = None
    documentation: Documentation | None = None


def parse(body: bytes) -> ServiceDetails:
    try:
        return ServiceDetails.model_validate_json(body)
    except ValidationError as error:
        problem = error.errors(include_url=False)[0]
        where = ".".join(str(part) for part in problem["loc"])
        raise UnreadableServiceError(f"{where}: {problem['msg']}" if where else problem["msg"]) from None


# --- the rules --------------------------------------------------------------------------------------------
# Compass's adapter checks the struct tags with govalidator first. Its errors of one struct are its fields' own
# messages and one entry per nested struct that failed (that struct's errors joined); each level is sorted and
# joined with ";". A custom message stands alone; govalidator's own names the field by its path of Go fields.

Problems = list[str]


def _joined(problems: Problems) -> str:
    return ";".join(sorted(problems))


def _nested(problems: Problems) -> Problems:
    return [_joined(problems)] if problems else []


def _required(value: str, message: str) -> Problems:
    return [] if value else [message]


def _url(value: str, message: str, path: str) -> Problems:
    """``valid:"url,required~<message>"``; a URL is what the Director takes (absolute http or https)."""
    if not value:
        return [message]
    try:
        optional_url(value, path)
    except InvalidInputError:
        return [f"{path}: {value} does not validate as url"]
    return []


def _csrf_problems(csrf: CSRFInfo | None, path: str) -> Problems:
    if csrf is None:
        return []
    path = f"{path}.CSRFInfo.tokenEndpointURL"
    return _nested(_url(csrf.token_endpoint_url, "tokenEndpointURL field cannot be empty", path))


def _basic_problems(basic: BasicAuth) -> Problems:
    return [
        *_required(basic.username, "basic auth username field cannot be empty"),
        *_required(basic.password, "basic auth password field cannot be empty"),
    ]


def _oauth_problems(oauth: OAuth, path: str) -> Problems:
    return [
        *_url(oauth.url, "oauth url field cannot be empty", f"{path}.url"),
        *_required(oauth.client_id, "oauth clientId field cannot be empty"),
        *_required(oauth.client_secret, "oauth clientSecret cannot be empty"),
    ]


def _credentials_problems(credentials: CredentialsWithCSRF, path: str) -> Problems:
    problems: Problems = []
    if (oauth := credentials.oauth) is not None:
        at = f"{path}.OauthWithCSRF"
        problems += _nested([*_nested(_oauth_problems(oauth, f"{at}.Oauth")), *_csrf_problems(oauth.csrf_info, at)])
    if (basic := credentials.basic) is not None:
        at = f"{path}.BasicWithCSRF"
        problems += _nested([*_nested(_basic_problems(basic)), *_csrf_problems(basic.csrf_info, at)])
    if (generated := credentials.certificate_gen) is not None:
        problems += _nested(_csrf_problems(generated.csrf_info, f"{path}.CertificateGenWithCSRF"))
    return problems


def _specification_credentials_problems(credentials: Credentials, path: str) -> Problems:
    problems: Problems = []
    if credentials.oauth is not None:
        problems += _nested(_oauth_problems(credentials.oauth, f"{path}.Oauth"))
    if credentials.basic is not None:
        problems += _nested(_basic_problems(credentials.basic))
    return problems


def _api_problems(api: API) -> Problems:
    problems = _url(api.target_url, "targetUrl field cannot be empty.", "Api.targetUrl")
    if api.credentials is not None:
        problems += _nested(_credentials_problems(api.credentials, "Api.Credentials"))
    if api.specification_credentials is not None:
        path = "Api.SpecificationCredentials"
        problems += _nested(_specification_credentials_problems(api.specification_credentials, path))
    return problems


def _documentation_problems(documentation: Documentation) -> Problems:
    return [
        *_required(documentation.display_name, "displayName field cannot be empty in documentation"),
        *_required(documentation.description, "description field cannot be empty in documentation"),
        *_required(documentation.kind, "type field cannot be empty in documentation"),
    ]


def _structure_problems(details: ServiceDetails) -> Problems:
    problems = [
        *_required(details.provider, "Provider field cannot be empty."),
        *_required(details.name, "Name field cannot be empty."),
        *_required(details.description, "Description field cannot be empty."),
    ]
    if details.api is not None:
        problems += _nested(_api_problems(details.api))
    if details.events is not None:
        problems += _nested([] if details.events.spec is not None else ["spec cannot be empty"])
    if details.documentation is not None:
        problems += _nested(_documentation_problems(details.documentation))
    return problems


def validate(details: ServiceDetails) -> None:
    """Compass's adapter's checks, in its order and with its messages."""
    if problems := _structure_problems(details):
        raise InvalidServiceError(f"Incorrect structure of service definition, {_joined(problems)}")
    if details.api is None and details.events is None:
        raise InvalidServiceError("At least one of service definition attributes: 'api', 'events' have to be provided")
    api = details.api
    if api is None:
        return
    groups: list[tuple[object, ...]] = []
    if (credentials := api.credentials) is not None:
        groups.append((credentials.oauth, credentials.basic, credentials.certificate_gen))
    if (specification := api.specification_credentials) is not None:
        groups.append((specification.oauth, specification.basic))
    if any(sum(method is not None for method in group) > 1 for group in groups):
        raise InvalidServiceError("api.CredentialsWithCSRF is invalid: too many authentication methods provided")


# --- to the Director --------------------------------------------------------------------------------------


def _spec_format(spec: Any) -> SpecFormat:
    """Compass's sniffing of the raw JSON value: XML is a string opening with a tag, JSON an object, the rest
    YAML (a string that is not XML, and JSON arrays and scalars, which YAML reads too)."""
    if isinstance(spec, str):
        head = spec[:XML_SNIFF_LENGTH]
        return SpecFormat.XML if head.startswith("<") and ">" in head else SpecFormat.YAML
    return SpecFormat.JSON if isinstance(spec, dict) else SpecFormat.YAML


def _spec_data(spec: Any) -> str:
    """The specification as a document: a string as it is, anything else as its JSON text."""
    return spec if isinstance(spec, str) else json.dumps(spec, ensure_ascii=False, separators=(",", ":"))


def _specification_auth(api: API) -> AuthInput | None:
    """How the spec is fetched: the specification credentials and request parameters (Compass's converter)."""
    credential = None
    if (credentials := api.specification_credentials) is not None:
        if (oauth := credentials.oauth) is not None:
            data = OAuthCredentialDataInput(client_id=oauth.client_id, client_secret=oauth.client_secret, url=oauth.url)
            credential = CredentialDataInput(oauth=data)
        elif (basic := credentials.basic) is not None:
            credential = CredentialDataInput(basic=BasicCredentialDataInput(basic.username, basic.password))
    parameters = api.specification_request_parameters or RequestParameters()
    if credential is None and parameters.headers is None and parameters.query_parameters is None:
        return None
    return AuthInput(
        credential=credential,
        additional_headers=parameters.headers,
        additional_query_params=parameters.query_parameters,
    )


def _specification_url(api: API) -> str:
    """The specification URL; for an OData API without one, where OData publishes its metadata document."""
    if not api.specification_url and api.is_odata:
        return api.target_url.rstrip("/") + ODATA_METADATA_PATH
    return api.specification_url


def _api_spec(api: API) -> APISpecInput | None:
    spec_type = APISpecType.ODATA if api.is_odata else APISpecType.OPEN_API
    if api.spec is not None:
        return APISpecInput(type=spec_type, format=_spec_format(api.spec), data=_spec_data(api.spec))
    if api.fetches_specification:
        fetch_request = FetchRequestInput(url=_specification_url(api), auth=_specification_auth(api))
        spec_format = SpecFormat.XML if api.is_odata else SpecFormat.JSON
        return APISpecInput(type=spec_type, format=spec_format, fetch_request=fetch_request)
    return APISpecInput(type=spec_type, format=SpecFormat.YAML) if api.api_type else None


def _credential(credentials: CredentialsWithCSRF | None) -> tuple[CredentialDataInput | None, CSRFInfo | None]:
    """The API's Basic or OAuth credential and its CSRF token endpoint (a generated certificate is ignored)."""
    if credentials is None:
        return None, None
    if (oauth := credentials.oauth) is not None:
        data = OAuthCredentialDataInput(client_id=oauth.client_id, client_secret=oauth.client_secret, url=oauth.url)
        return CredentialDataInput(oauth=data), oauth.csrf_info
    if (basic := credentials.basic) is not None:
        return CredentialDataInput(basic=BasicCredentialDataInput(basic.username, basic.password)), basic.csrf_info
    return None, None


def _default_auth(api: API) -> AuthInput | None:
    credential, csrf = _credential(api.credentials)
    headers, query_parameters = api.headers, api.query_parameters
    if (parameters := api.request_parameters) is not None:
        headers = parameters.headers if parameters.headers is not None else headers
        query_parameters = parameters.query_parameters if parameters.query_parameters is not None else query_parameters
    request_auth = (
        CredentialRequestAuthInput(csrf=CSRFTokenCredentialRequestAuthInput(token_endpoint_url=csrf.token_endpoint_url))
        if csrf is not None
        else None
    )
    if credential is None and headers is None and query_parameters is None and request_auth is None:
        return None
    return AuthInput(
        credential=credential,
        additional_headers=headers,
        additional_query_params=query_parameters,
        request_auth=request_auth,
    )


def _documents(documentation: Documentation | None) -> tuple[DocumentInput, ...] | None:
    if documentation is None or not documentation.docs:
        return None
    return tuple(
        # The description is Compass's " ": the Director requires one and the legacy documents have none.
        DocumentInput(title=doc.title, display_name=doc.title, description=" ", format=DocumentFormat.MARKDOWN, data=doc.source)
        for doc in documentation.docs
    )


def bundle_input(details: ServiceDetails) -> BundleCreateInput:
    """The one bundle a service is: one API definition, one event definition and the documents, all named and
    described as the service; the API's credentials and request parameters are the bundle's default auth."""
    description = details.description or None
    api, events = details.api, details.events
    api_definitions = None
    if api is not None:
        if api.fetches_specification:
            optional_url(api.specification_url, "api.specificationUrl")
        api_definitions = (
            APIDefinitionInput(
                name=details.name, target_url=api.target_url, description=description, spec=_api_spec(api)
            ),
        )
    event_definitions = None
    if events is not None and events.spec is not None:
        spec = EventSpecInput(type=EventSpecType.ASYNC_API, format=_spec_format(events.spec), data=_spec_data(events.spec))
        event_definitions = (EventDefinitionInput(name=details.name, description=description, spec=spec),)
    return BundleCreateInput(
        name=details.name,
        description=description,
        default_instance_auth=_default_auth(api) if api is not None else None,
        api_definitions=api_definitions,
        event_definitions=event_definitions,
        documents=_documents(details.documentation),
    )


# --- the label --------------------------------------------------------------------------------------------

References = dict[str, dict[str, Any]]
"""The label's value: each service's entry by its id (the bundle's)."""


def read_references(value: Any) -> References:
    """The label's value as Compass writes it (a JSON string of an object), or as an object; none is empty."""
    if value is None:
        return {}
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            value = None
    if not isinstance(value, dict) or not all(isinstance(entry, dict) for entry in value.values()):
        raise CompassError(f"the application's label {LABEL_KEY} is not a JSON object of services by id")
    return value


def encode_references(references: References) -> str:
    """As Compass writes the label: a string holding the JSON object, its keys sorted as Go writes a map."""
    return json.dumps(dict(sorted(references.items())), ensure_ascii=False, separators=(",", ":"))


def reference(service_id: str, identifier: str) -> dict[str, Any]:
    """The service's entry: Compass's ``{id, identifier}``."""
    return {"id": service_id, "identifier": identifier}


# --- back from the Director -------------------------------------------------------------------------------


def _spec_value(data: str, spec_format: str | None) -> Any:
    """A JSON specification as the object it is, any other as a string (Compass's round trip)."""
    if spec_format == SpecFormat.JSON.value:
        try:
            return json.loads(data)
        except ValueError:
            return data
    return data


def _description(bundle: Bundle, apis: Sequence[APIDefinition], events: Sequence[EventDefinition]) -> str:
    """The bundle's, replaced by its only API definition's, then by its only event definition's (Compass's)."""
    description = bundle.description or ""
    for definitions in (apis, events):
        if len(definitions) == 1 and definitions[0].description is not None:
            description = definitions[0].description
    return description


def _credentials_of(auth: dict[str, Any]) -> dict[str, Any] | None:
    credential = auth.get("credential") or {}
    csrf = (auth.get("requestAuth") or {}).get("csrf")
    csrf_info = {"csrfInfo": {"tokenEndpointURL": csrf["tokenEndpointURL"]}} if csrf else {}
    if (oauth := credential.get("oauth")) is not None:
        return {"oauth": {"url": oauth["url"], "clientId": oauth["clientId"], "clientSecret": oauth["clientSecret"], **csrf_info}}
    if (basic := credential.get("basic")) is not None:
        return {"basic": {"username": basic["username"], "password": basic["password"], **csrf_info}}
    return None


def _request_parameters(auth: dict[str, Any]) -> dict[str, Any] | None:
    headers, query_parameters = auth.get("additionalHeaders"), auth.get("additionalQueryParams")
    parameters = {
        key: value for key, value in (("headers", headers), ("queryParameters", query_parameters)) if value is not None
    }
    return parameters or None


def _api_of(api: APIDefinition, auth: dict[str, Any], specification: FetchRequest | None) -> dict[str, Any]:
    """``api`` in Go's field order; headers and query parameters both in ``requestParameters`` and, for the
    oldest clients, beside it; the specification's URL, credentials and parameters from its fetch request."""
    specification_auth = (specification.auth if specification is not None else None) or {}
    fields: dict[str, Any] = {
        "targetUrl": api.target_url,
        "credentials": _credentials_of(auth),
        "spec": _spec_value(api.spec_data, api.spec_format) if api.spec_data is not None else None,
        "specificationUrl": specification.url if specification is not None else None,
        "apiType": api.spec_type,
        "requestParameters": _request_parameters(auth),
        "specificationCredentials": _credentials_of(specification_auth),
        "specificationRequestParameters": _request_parameters(specification_auth),
        "headers": auth.get("additionalHeaders"),
        "queryParameters": auth.get("additionalQueryParams"),
    }
    return {key: value for key, value in fields.items() if value is not None}


def details_of(
    bundle: Bundle,
    apis: Sequence[APIDefinition],
    events: Sequence[EventDefinition],
    documents: Sequence[Document],
    entry: dict[str, Any],
    *,
    specification: FetchRequest | None,
) -> dict[str, Any]:
    """``GET /services/{id}``: the bundle as a ``ServiceDetails``, as Compass's adapter converts it back;
    ``specification`` is the API's fetch request."""
    if len(apis) > 1:
        raise CompassError("found more API Definitions than one supported for legacy Service")
    if len(events) > 1:
        raise CompassError("found more Event Definitions than one supported for legacy Service")
    details: dict[str, Any] = {"provider": "", "name": bundle.name, "description": _description(bundle, apis, events)}
    if identifier := entry.get("identifier"):
        details["identifier"] = identifier
    details["labels"] = {}
    if apis:
        details["api"] = _api_of(apis[0], bundle.default_instance_auth or {}, specification)
    if events and events[0].spec_data is not None:
        details["events"] = {"spec": _spec_value(events[0].spec_data, events[0].spec_format)}
    if documents:
        docs = [{"title": doc.title, "type": DOCUMENT_TYPE, "source": doc.data or ""} for doc in documents]
        details["documentation"] = {**DOCUMENTATION, "docs": docs}
    return details


def summary_of(
    bundle: Bundle, apis: Sequence[APIDefinition], events: Sequence[EventDefinition], entry: dict[str, Any]
) -> dict[str, Any]:
    """An item of ``GET /services``: Compass's ``Service``, whose provider is not kept and labels are empty."""
    summary: dict[str, Any] = {
        "id": bundle.id,
        "provider": "",
        "name": bundle.name,
        "description": _description(bundle, apis, events),
    }
    if identifier := entry.get("identifier"):
        summary["identifier"] = identifier
    summary["labels"] = {}
    return summary
