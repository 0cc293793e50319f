"""From a parsed path to the API to call: the Application's matching entry, its Secrets, its parameters.

Matching is Kyma's: a service matches when ``gateway_name(service.displayName)`` is the path's service segment
and the entry is of type ``API`` (Compass mode: and ``gateway_name(entry.name)`` is the entry segment); exactly
one match is required. Everything is looked up again per call, so a change the agent writes is followed by
the next call (the catalog makes that cheap).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field

from dataplane.catalog.base import Catalog, CatalogError
from dataplane.catalog.model import Application, Credentials, Entry, SecretData, Service
from dataplane.names import PROXY_TIMEOUT_ANNOTATION, gateway_name
from gateway.errors import GatewayError
from gateway.paths import ApiPath

# Longer than this (or not a number) and the annotation is ignored: a typo must not hold calls for a day.
_LONGEST_TIMEOUT = 3600.0

Parameters = Mapping[str, tuple[str, ...]]


@dataclass(frozen=True)
class ResolvedApi:
    application: str
    service: str  # the service's display name (the bundle's name)
    api: str  # the entry's name
    target_url: str
    credentials: Credentials | None
    # The credentials Secret's data; empty without credentials.
    secret: SecretData = field(default_factory=dict)
    headers: Parameters = field(default_factory=dict)  # request parameters: added when the caller sent none
    query: Parameters = field(default_factory=dict)
    skip_verify: bool = False
    encode_url: bool = False
    timeout: float = 10.0


def resolve(catalog: Catalog, path: ApiPath, *, default_timeout: float) -> ResolvedApi:
    try:
        application, service, entry = _match(catalog.application(path.application), path)
        credentials = entry.credentials
        secret: SecretData = {}
        if credentials is not None and credentials.secret_name:
            secret = _secret(catalog, service, credentials.secret_name)
        headers: Parameters = {}
        query: Parameters = {}
        if entry.request_parameters_secret_name:
            values = _secret(catalog, service, entry.request_parameters_secret_name)
            headers = parameters(values, "headers", "Failed to unmarshal headers")
            query = parameters(values, "queryParameters", "Failed to unmarshal query parameters")
    except CatalogError as exc:
        raise GatewayError(500, f"failed to get service with name '{path.service}': {exc}") from exc
    return ResolvedApi(
        application=application.name,
        service=service.display_name,
        api=entry.name,
        target_url=entry.target_url,
        credentials=credentials,
        secret=secret,
        headers=headers,
        query=query,
        skip_verify=application.skip_verify,
        encode_url=application.encode_url,
        timeout=_timeout(application, default_timeout),
    )


def _match(application: Application | None, path: ApiPath) -> tuple[Application, Service, Entry]:
    found = [
        (service, entry)
        for service in (application.services if application is not None else ())
        if gateway_name(service.display_name) == path.service
        for entry in service.entries
        if entry.type == "API" and (path.entry is None or gateway_name(entry.name) == path.entry)
    ]
    if application is None or not found:
        where = f" and entry name {path.entry}" if path.entry is not None else ""
        raise GatewayError(404, f"service with name {path.service}{where} not found")
    if len(found) > 1:
        listed = " | ".join(
            f"service.ID: '{service.id}', service.DisplayName: '{service.display_name}', entry.Name: '{entry.name}'"
            for service, entry in found
        )
        raise GatewayError(
            400, f"failed to get service with name '{path.service}': multiple services found: {listed}"
        )
    return (application, *found[0])


def _secret(catalog: Catalog, service: Service, name: str) -> SecretData:
    data = catalog.secret(name)
    if data is None:
        raise GatewayError(500, f"failed to read API for {service.name} service, secret '{name}' not found")
    return data


def parameters(secret: SecretData, key: str, failure: str) -> Parameters:
    """``{"name": ["v1", "v2"]}`` JSON under ``key`` (a request-parameters or OAuth Secret); 500 when unreadable."""
    raw = secret.get(key)
    if not raw:
        return {}
    try:
        value = json.loads(raw)
    except ValueError as exc:
        raise GatewayError(500, f"{failure}, {exc}") from exc
    if not isinstance(value, dict):
        raise GatewayError(500, f"{failure}, not a JSON object")
    return {
        str(name): tuple(str(item) for item in (values if isinstance(values, list) else [values]))
        for name, values in value.items()
    }


def _timeout(application: Application, default: float) -> float:
    value = application.annotations.get(PROXY_TIMEOUT_ANNOTATION)
    if value is None:
        return default
    try:
        seconds = float(value)
    except ValueError:
        return default
    return seconds if 0 < seconds <= _LONGEST_TIMEOUT else default
