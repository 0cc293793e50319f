"""From a manifest (a dict, as YAML or the API server gives it) to the catalog's model.

Lenient where a field is missing, since Applications written by hand are read too; strict where a field is
there but unusable (a list that is not one, a string that is a mapping): an ``UnusableManifest`` (a
``ValueError``) naming the field. Messages name fields, never values: a Secret's values are credentials.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from dataplane.catalog.model import Application, ApplicationMapping, Credentials, Entry, SecretData, Service


class UnusableManifest(ValueError):
    """A field is there but cannot be used; the message names the field, never a value."""


def application_from_manifest(manifest: Mapping[str, Any]) -> Application:
    metadata = _mapping(manifest.get("metadata"), "metadata")
    name = _text(metadata, "name", "metadata")
    if not name:
        raise UnusableManifest("metadata.name is missing")
    spec = _mapping(manifest.get("spec"), "spec")
    compass = _mapping(spec.get("compassMetadata"), "spec.compassMetadata")
    authentication = _mapping(compass.get("authentication"), "spec.compassMetadata.authentication")
    client_ids = _list(authentication.get("clientIds"), "spec.compassMetadata.authentication.clientIds")
    return Application(
        name=name,
        services=tuple(
            _service(_mapping(item, f"spec.services[{index}]"), f"spec.services[{index}]")
            for index, item in enumerate(_list(spec.get("services"), "spec.services"))
        ),
        skip_verify=_flag(spec, "skipVerify", "spec"),
        encode_url=_flag(spec, "encodeUrl", "spec"),
        client_ids=tuple(
            _scalar(item, f"spec.compassMetadata.authentication.clientIds[{index}]")
            for index, item in enumerate(client_ids)
        ),
        application_id=_text(compass, "applicationId", "spec.compassMetadata"),
        annotations=_strings(metadata.get("annotations"), "metadata.annotations"),
        labels=_strings(metadata.get("labels"), "metadata.labels"),
        description=_text(spec, "description", "spec"),
        display_name=_text(spec, "displayName", "spec"),
        provider_display_name=_text(spec, "providerDisplayName", "spec"),
        long_description=_text(spec, "longDescription", "spec"),
        tags=tuple(
            _scalar(item, f"spec.tags[{index}]") for index, item in enumerate(_list(spec.get("tags"), "spec.tags"))
        ),
        spec_labels=_strings(spec.get("labels"), "spec.labels"),
    )


def application_mapping_from_manifest(manifest: Mapping[str, Any]) -> ApplicationMapping:
    metadata = _mapping(manifest.get("metadata"), "metadata")
    name, namespace = _text(metadata, "name", "metadata"), _text(metadata, "namespace", "metadata")
    if not name or not namespace:
        raise UnusableManifest("metadata.name or metadata.namespace is missing")
    spec = _mapping(manifest.get("spec"), "spec")
    services = spec.get("services")
    if services is None:
        return ApplicationMapping(namespace, name)
    return ApplicationMapping(
        namespace,
        name,
        frozenset(
            _text(_mapping(item, f"spec.services[{index}]"), "id", f"spec.services[{index}]")
            for index, item in enumerate(_list(services, "spec.services"))
        ),
    )


def secret_data_from_manifest(manifest: Mapping[str, Any]) -> SecretData:
    """``data`` base64-decoded, with ``stringData`` written over it as the API server does on a write."""
    data: dict[str, bytes] = {}
    for key, value in _mapping(manifest.get("data"), "data").items():
        where = f"data.{_key(key, 'data')}"
        encoded = _scalar(value, where)
        try:
            # Go's decoder, which the API server's JSON goes through, skips line breaks; nothing else.
            data[key] = base64.b64decode(encoded.replace("\r", "").replace("\n", ""), validate=True)
        except ValueError:  # binascii.Error, or a character beyond ASCII
            raise UnusableManifest(f"{where} is not valid base64") from None
    for key, value in _mapping(manifest.get("stringData"), "stringData").items():
        data[_key(key, "stringData")] = _scalar(value, f"stringData.{key}").encode("utf-8")
    return MappingProxyType(data)


def _service(service: Mapping[str, Any], where: str) -> Service:
    return Service(
        id=_text(service, "id", where),
        name=_text(service, "name", where),
        display_name=_text(service, "displayName", where),
        description=_text(service, "description", where),
        auth_create_parameter_schema=_json(service.get("authCreateParameterSchema"), f"{where}.authCreateParameterSchema"),
        entries=tuple(
            _entry(_mapping(item, f"{where}.entries[{index}]"), f"{where}.entries[{index}]")
            for index, item in enumerate(_list(service.get("entries"), f"{where}.entries"))
        ),
    )


def _entry(entry: Mapping[str, Any], where: str) -> Entry:
    return Entry(
        type=_text(entry, "type", where),
        id=_text(entry, "id", where),
        name=_text(entry, "name", where),
        target_url=_text(entry, "targetUrl", where),
        central_gateway_url=_text(entry, "centralGatewayUrl", where),
        credentials=_credentials(entry.get("credentials"), f"{where}.credentials"),
        request_parameters_secret_name=_text(entry, "requestParametersSecretName", where),
    )


def _credentials(value: object, where: str) -> Credentials | None:
    credentials = _mapping(value, where)
    csrf = _mapping(credentials.get("csrfInfo"), f"{where}.csrfInfo")
    found = Credentials(
        type=_text(credentials, "type", where),
        secret_name=_text(credentials, "secretName", where),
        authentication_url=_text(credentials, "authenticationUrl", where),
        csrf_token_endpoint_url=_text(csrf, "tokenEndpointURL", f"{where}.csrfInfo"),
    )
    # Kyma's entry holds the struct, not a pointer: all fields empty is how "no credentials" is written there.
    return None if found == Credentials(type="", secret_name="") else found


def _json(value: object, where: str) -> Any:
    """Kyma's field is JSON text (the agent writes the Director's string as it is); YAML written by hand may
    hold the schema itself."""
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except ValueError:
        raise UnusableManifest(f"{where} is not valid JSON") from None


def _mapping(value: object, where: str) -> Mapping[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise UnusableManifest(f"{where} is not a mapping")
    return value


def _list(value: object, where: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise UnusableManifest(f"{where} is not a list")
    return value


def _scalar(value: object, where: str) -> str:
    """A string; a missing one is empty, and an integer (YAML's reading of ``id: 42``) is its digits."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    raise UnusableManifest(f"{where} is not a string")


def _text(parent: Mapping[str, Any], key: str, where: str) -> str:
    return _scalar(parent.get(key), f"{where}.{key}")


def _key(key: object, where: str) -> str:
    if not isinstance(key, str):
        raise UnusableManifest(f"{where} has a key that is not a string")
    return key


def _flag(parent: Mapping[str, Any], key: str, where: str) -> bool:
    value = parent.get(key)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise UnusableManifest(f"{where}.{key} is not a boolean")
    return value


def _strings(value: object, where: str) -> Mapping[str, str]:
    return MappingProxyType(
        {_key(key, where): _scalar(item, f"{where}.{key}") for key, item in _mapping(value, where).items()}
    )
