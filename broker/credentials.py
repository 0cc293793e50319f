"""What a binding hands to a workload, under the names of Kyma's application broker in Compass mode (its
``BindingCredentialsRenderer.GetBindingCredentialsV2`` and the Director service's
``mapPackageInstanceAuthToModel``):

- ``CREDENTIALS_TYPE``: ``noauth``, ``basicauth`` or ``oauth`` (Kyma's ``proxyconfig.AuthType``), and
  ``oauthwithcert`` for a certificate OAuth credential, which Kyma's broker did not know (pycompass's choice, the
  name of Kyma's gateway for that credential type).
- ``CONFIGURATION``: Kyma's ``proxyconfig.Configuration`` as JSON: ``credentials`` (``username``/``password``;
  ``clientId``/``clientSecret``/``tokenUrl``; for a certificate ``clientId``/``certificate``/``tokenUrl``, the
  certificate as the Director holds it, PEM with its key), ``requestParameters`` (``headers``,
  ``queryParameters``: name to a list of values) and ``csrfConfig`` (``tokenUrl``) where the instance auth has them.
- per API of the bundle ``<NAME>_<ID>_GATEWAY_URL`` and ``<NAME>_<ID>_TARGET_URL``, the prefix made by Kyma's
  rule (``variable_prefix``). The gateway URL is the entry's ``centralGatewayUrl`` as the agent writes it: the
  Application Gateway in Compass mode, not Kyma 1.x's per-namespace gateway reading the binding's Secret.
- ``GATEWAY_URL`` when the bundle has exactly one API: its gateway URL, under the name Kyma's broker used before
  bundles (one API per service), which the seed's walk-through reads.
- ``EVENTS_URL`` when the bundle has event definitions (Kyma's broker has no such key): where the application
  publishes its events in the runtime, ``<BROKER_EVENTS_URL>/<application>/v1/events``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from dataplane.catalog.model import Application, Entry, Service

# Kyma's expressions; RE2's \s is these four and the space.
_NAME_PARTS = re.compile(r"[a-zA-Z_]+[a-zA-Z0-9_\t\n\f\r ]*")
_WHITESPACE = re.compile(r"[\t\n\f\r ]+")
_DASHES = re.compile(r"-+")
_ID_PARTS = re.compile(r"[a-zA-Z0-9_]*")
# The Director's credential types → CREDENTIALS_TYPE and the fields of CONFIGURATION.credentials (name: field).
_CREDENTIALS: dict[str, tuple[str, dict[str, str]]] = {
    "BasicCredentialData": ("basicauth", {"username": "username", "password": "password"}),
    "OAuthCredentialData": (
        "oauth",
        {"clientId": "clientId", "clientSecret": "clientSecret", "tokenUrl": "url"},
    ),
    "CertificateOAuthCredentialData": (
        "oauthwithcert",
        {"clientId": "clientId", "certificate": "certificate", "tokenUrl": "url"},
    ),
}


def variable_prefix(entry: Entry) -> str:
    """Kyma's: the name without what an environment variable cannot hold (spaces become ``_``), ``_``, the id with
    ``_`` for dashes, upper case."""
    name = _WHITESPACE.sub("_", "".join(_NAME_PARTS.findall(entry.name)).strip())
    identifier = "".join(_ID_PARTS.findall(_DASHES.sub("_", entry.id)))
    return f"{name}_{identifier}".upper()


def binding_credentials(
    application: Application, service: Service, auth: Mapping[str, Any], *, events_url: str
) -> dict[str, Any]:
    """The binding's ``credentials`` for the bundle ``service`` of ``application``, with the Director's ``Auth``
    of the instance."""
    kind, configuration = _configuration(auth)
    found: dict[str, Any] = {"CREDENTIALS_TYPE": kind, "CONFIGURATION": configuration}
    apis = [entry for entry in service.entries if entry.type == "API"]
    for entry in apis:
        prefix = variable_prefix(entry)
        found[f"{prefix}_GATEWAY_URL"] = entry.central_gateway_url
        found[f"{prefix}_TARGET_URL"] = entry.target_url
    if len(apis) == 1:
        found["GATEWAY_URL"] = apis[0].central_gateway_url
    if any(entry.type == "Events" for entry in service.entries):
        found["EVENTS_URL"] = f"{events_url.rstrip('/')}/{application.name}/v1/events"
    return found


def _configuration(auth: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    configuration: dict[str, Any] = {}
    parameters = {
        name: auth[field]
        for name, field in (("headers", "additionalHeaders"), ("queryParameters", "additionalQueryParams"))
        if auth.get(field)
    }
    if parameters:
        configuration["requestParameters"] = parameters
    csrf = ((auth.get("requestAuth") or {}).get("csrf") or {}).get("tokenEndpointURL")
    if csrf:
        configuration["csrfConfig"] = {"tokenUrl": csrf}
    credential = auth.get("credential") or {}
    known = _CREDENTIALS.get(str(credential.get("__typename")))
    if known is None:
        return "noauth", configuration
    kind, fields = known
    configuration["credentials"] = {name: credential[field] for name, field in fields.items()}
    return kind, configuration
