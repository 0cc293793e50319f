"""Applications as the Director answers them (agent.queries.APPLICATIONS_FOR_RUNTIME) → Kubernetes manifests.

One ``Application`` (cluster-scoped, applicationconnector.kyma-project.io/v1alpha1) per application, and per
bundle with credentials a ``Secret`` holding them (never inline in the Application), plus one for its request
parameters (additional headers and query parameters) when it has any. The shapes follow DESIGN.md "Application
custom resource"; everything here is a pure function of its input, so an unchanged answer gives identical
manifests. An application's Director label ``gateway.pycompass.io/proxy-timeout`` becomes the Application's
annotation of that key, the gateway's timeout for its APIs.

Secrets are referenced by the Application's entries by name. They carry the labels ``app`` and ``bundleId``;
the Kubernetes sink adds the ownerReference to the Application (whose uid only exists once it is created), the
directory sink writes none (``kubectl apply`` would refuse an ownerReference without a uid).
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from agent.queries import PROXY_TIMEOUT_ALIAS
from agent.sinks.base import (
    APPLICATION_API_VERSION,
    APPLICATION_KIND,
    OWNERSHIP_LABEL,
    SECRET_KIND,
    Manifest,
)
from dataplane.names import DEFAULT_SECRET_NAMESPACE, PROXY_TIMEOUT_ANNOTATION, gateway_name, is_resource_name

DEFAULT_GATEWAY_URL = "http://central-application-gateway.kyma-system.svc.cluster.local:8082"
# Kyma's: Istio's ingress gateway for applications (credentialName kyma-gateway-certs) verifies their client
# certificates against the Secret <credentialName>-cacert, key cacert, which Kyma's agent fills (DATAPLANE.md B.1).
DEFAULT_CA_SECRET = "istio-system/kyma-gateway-certs-cacert"
CA_SECRET_KEY = "cacert"

_NOT_ALLOWED = re.compile(r"[^-a-z0-9]")
_HYPHEN_RUNS = re.compile(r"-{2,}")
_LABEL_VALUE_MAX = 63


def normalize(name: str) -> str:
    """Compass's rule, no prefix: lower case, ``[^-a-z0-9]`` → ``-``, runs collapsed, no ``-`` at the ends."""
    # Go's strings.ToLower maps "İ" to "i"; Python's lower() gives two characters.
    lowered = name.replace("\u0130", "i").lower()
    return _HYPHEN_RUNS.sub("-", _NOT_ALLOWED.sub("-", lowered)).strip("-")


def kubernetes_name(application_name: str) -> str:
    """The application's name when Kubernetes accepts it (the Director normalizes names for runtimes labelled
    ``isNormalized``), else Compass's normalized form of it (``mp-`` + the normalized name)."""
    if is_resource_name(application_name):
        return application_name
    return normalize("mp-" + application_name)[:253].rstrip("-")


def short_hash(value: str, length: int) -> str:
    # A name suffix, not security: sha1 because Compass's agent uses it for service names.
    return hashlib.sha1(value.encode("utf-8")).hexdigest()[:length]  # noqa: S324


def service_name(bundle_name: str, bundle_id: str) -> str:
    normalized = normalize(bundle_name)
    suffix = short_hash(bundle_id, 5)
    return f"{normalized}-{suffix}" if normalized else suffix


def credentials_secret_name(application: str, bundle_id: str) -> str:
    return _secret_name(application, bundle_id, "")


def request_parameters_secret_name(application: str, bundle_id: str) -> str:
    return _secret_name(application, bundle_id, "-params")


def _secret_name(application: str, bundle_id: str, suffix: str) -> str:
    tail = f"-{short_hash(bundle_id, 10)}{suffix}"
    return application[: 253 - len(tail)].rstrip("-.") + tail


def _label_value(value: str) -> str:
    return value[:_LABEL_VALUE_MAX].rstrip("-._")


def _b64(text: str) -> str:
    return base64.b64encode(text.encode("utf-8")).decode("ascii")


def _canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def _data_of(page: Any) -> list[dict[str, Any]]:
    return list((page or {}).get("data") or [])


def application_resources(
    application: dict[str, Any],
    *,
    gateway_url: str = DEFAULT_GATEWAY_URL,
    secret_namespace: str = DEFAULT_SECRET_NAMESPACE,
) -> list[Manifest]:
    """The Application manifest first, then its Secrets."""
    name = kubernetes_name(str(application["name"]))
    services: list[dict[str, Any]] = []
    secrets: list[Manifest] = []
    for bundle in _data_of(application.get("bundles")):
        service, bundle_secrets = _service(name, bundle, gateway_url.rstrip("/"), secret_namespace)
        services.append(service)
        secrets.extend(bundle_secrets)
    metadata: dict[str, Any] = {"name": name, "labels": {OWNERSHIP_LABEL[0]: OWNERSHIP_LABEL[1]}}
    annotations = _annotations(application)
    if annotations:
        metadata["annotations"] = annotations
    manifest: Manifest = {
        "apiVersion": APPLICATION_API_VERSION,
        "kind": APPLICATION_KIND,
        "metadata": metadata,
        "spec": {
            "description": application.get("description") or "",
            "skipInstallation": False,
            "labels": {"connected-app": name},
            "compassMetadata": {
                "applicationId": str(application["id"]),
                "authentication": {"clientIds": [str(auth["id"]) for auth in application.get("auths") or []]},
            },
            "services": services,
        },
    }
    return [manifest, *secrets]


def _annotations(application: dict[str, Any]) -> dict[str, str]:
    """The Director label the gateway reads as an annotation; a value that is not text becomes its JSON."""
    value = (application.get(PROXY_TIMEOUT_ALIAS) or {}).get(PROXY_TIMEOUT_ANNOTATION)
    if value is None:
        return {}
    return {PROXY_TIMEOUT_ANNOTATION: value if isinstance(value, str) else _canonical_json(value)}


def _service(
    application: str, bundle: dict[str, Any], gateway_url: str, secret_namespace: str
) -> tuple[dict[str, Any], list[Manifest]]:
    bundle_id = str(bundle["id"])
    bundle_name = str(bundle.get("name") or "")
    apis = _data_of(bundle.get("apiDefinitions"))
    events = _data_of(bundle.get("eventDefinitions"))
    auth = bundle.get("defaultInstanceAuth") or {}

    secrets: list[Manifest] = []
    credentials: dict[str, Any] | None = None
    parameters_secret: str | None = None
    if apis:
        credentials, credentials_secret = _credentials(application, bundle_id, auth, secret_namespace)
        parameters = _request_parameters(application, bundle_id, auth, secret_namespace)
        secrets = [secret for secret in (credentials_secret, parameters) if secret is not None]
        parameters_secret = parameters["metadata"]["name"] if parameters is not None else None

    # The gateway matches the bundle and API segments by its own rule (gateway_name), not by normalize.
    base_url = f"{gateway_url}/{application}/{gateway_name(bundle_name)}"
    entries: list[dict[str, Any]] = []
    for api in apis:
        api_name = str(api.get("name") or "")
        entry: dict[str, Any] = {
            "type": "API",
            "id": str(api["id"]),
            "name": api_name,
            "targetUrl": str(api.get("targetURL") or ""),
            "centralGatewayUrl": f"{base_url}/{gateway_name(api_name)}",
        }
        if credentials is not None:
            entry["credentials"] = copy.deepcopy(credentials)
        if parameters_secret is not None:
            entry["requestParametersSecretName"] = parameters_secret
        entries.append(entry)
    entries.extend(
        {"type": "Events", "id": str(event["id"]), "name": str(event.get("name") or "")} for event in events
    )

    service: dict[str, Any] = {
        "id": bundle_id,
        "identifier": "",
        "name": service_name(bundle_name, bundle_id),
        "displayName": bundle_name,
        "description": bundle.get("description") or "",
    }
    if bundle.get("instanceAuthRequestInputSchema") is not None:
        service["authCreateParameterSchema"] = bundle["instanceAuthRequestInputSchema"]
    service["entries"] = entries
    return service, secrets


def _credentials(
    application: str, bundle_id: str, auth: dict[str, Any], namespace: str
) -> tuple[dict[str, Any] | None, Manifest | None]:
    credential = auth.get("credential") or {}
    secret_name = credentials_secret_name(application, bundle_id)
    if "certificate" in credential:
        pair = _certificate_and_key(credential.get("certificate") or "")
        if pair is None:
            return None, None
        reference: dict[str, Any] = {
            "type": "OAuthWithCert",
            "secretName": secret_name,
            "authenticationUrl": credential.get("url") or "",
        }
        data = {"clientId": credential.get("clientId") or "", "crt": pair[0], "key": pair[1]}
    elif "clientId" in credential:
        reference = {
            "type": "OAuth",
            "secretName": secret_name,
            "authenticationUrl": credential.get("url") or "",
        }
        data = {
            "clientId": credential.get("clientId") or "",
            "clientSecret": credential.get("clientSecret") or "",
        }
    elif "username" in credential:
        reference = {"type": "Basic", "secretName": secret_name}
        data = {"username": credential.get("username") or "", "password": credential.get("password") or ""}
    else:
        return None, None
    csrf = ((auth.get("requestAuth") or {}).get("csrf") or {}).get("tokenEndpointURL")
    if csrf:
        reference["csrfInfo"] = {"tokenEndpointURL": csrf}
    return reference, _secret(secret_name, namespace, application, bundle_id, data)


_PEM_BLOCK = re.compile(r"-----BEGIN ([A-Z0-9 ]+)-----.*?-----END \1-----", re.DOTALL)


def _certificate_and_key(pem: str) -> tuple[str, str] | None:
    """A certificate OAuth credential's PEM split into the gateway's ``crt`` and ``key``; None without both, since
    the client cannot authenticate by a certificate whose key it lacks (Compass's field may hold the chain only)."""
    blocks = [(match.group(1), match.group(0)) for match in _PEM_BLOCK.finditer(pem)]
    certificates = "\n".join(block for label, block in blocks if label == "CERTIFICATE")
    keys = [block for label, block in blocks if label.endswith("PRIVATE KEY")]
    if not certificates or len(keys) != 1:
        return None
    return certificates + "\n", keys[0] + "\n"


def _request_parameters(
    application: str, bundle_id: str, auth: dict[str, Any], namespace: str
) -> Manifest | None:
    data: dict[str, str] = {}
    if auth.get("additionalHeaders"):
        data["headers"] = _canonical_json(auth["additionalHeaders"])
    if auth.get("additionalQueryParams"):
        data["queryParameters"] = _canonical_json(auth["additionalQueryParams"])
    if not data:
        return None
    name = request_parameters_secret_name(application, bundle_id)
    return _secret(name, namespace, application, bundle_id, data)


def _secret(name: str, namespace: str, application: str, bundle_id: str, data: dict[str, str]) -> Manifest:
    return {
        "apiVersion": "v1",
        "kind": SECRET_KIND,
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": {
                "app": _label_value(application),
                "bundleId": _label_value(bundle_id),
                OWNERSHIP_LABEL[0]: OWNERSHIP_LABEL[1],
            },
        },
        "type": "Opaque",
        "data": {key: _b64(value) for key, value in sorted(data.items())},
    }


def ca_secret(namespace: str, name: str, ca_pem: bytes) -> Manifest:
    """The Connector's CA certificate(s), for an ingress that verifies the applications' client certificates.
    Owned like the credential Secrets, so the agent keeps it current (a renewal may bring a new CA) and never
    overwrites a Secret of that name it did not write."""
    return {
        "apiVersion": "v1",
        "kind": SECRET_KIND,
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": {OWNERSHIP_LABEL[0]: OWNERSHIP_LABEL[1]},
        },
        "type": "Opaque",
        "data": {CA_SECRET_KEY: base64.b64encode(ca_pem).decode("ascii")},
    }


@dataclass(frozen=True)
class NameConflict:
    """Applications the Director gave one resource name (e.g. "shop" and "SHOP", both ``mp-shop``).

    ``kept`` is the one whose Application resource already exists and stays; None when none of them has it,
    and then none is created: the agent cannot tell which one the runtime should have.
    """

    name: str
    application_ids: tuple[str, ...]
    kept: str | None

    @property
    def reason(self) -> str:
        ids = ", ".join(self.application_ids)
        if self.kept is None:
            outcome = "none of them is applied"
        else:
            others = ", ".join(item for item in self.application_ids if item != self.kept)
            outcome = f"the existing resource of {self.kept} is kept and {others} not applied"
        return (
            f"applications {ids} would all be Application/{self.name}: {outcome}; rename or unassign all but "
            "one in the Director"
        )


def application_id_of(manifest: Manifest) -> str | None:
    """The Director's id of the application an Application manifest is for."""
    metadata = (manifest.get("spec") or {}).get("compassMetadata") or {}
    application_id = metadata.get("applicationId") if isinstance(metadata, dict) else None
    return str(application_id) if application_id is not None else None


def desired_resources(
    applications: list[dict[str, Any]],
    *,
    existing: Mapping[str, Manifest] | None = None,
    gateway_url: str = DEFAULT_GATEWAY_URL,
    secret_namespace: str = DEFAULT_SECRET_NAMESPACE,
) -> tuple[list[Manifest], list[NameConflict]]:
    """All manifests for the runtime's applications, and the names several applications would share.

    ``existing`` maps name → manifest of the agent's Application resources: of applications sharing a name,
    only the one whose resource exists keeps it (never replaced by another, nor its Secrets deleted), and none
    is created when none exists.
    """
    candidates: dict[str, list[list[Manifest]]] = {}
    for application in applications:
        resources = application_resources(
            application, gateway_url=gateway_url, secret_namespace=secret_namespace
        )
        candidates.setdefault(resources[0]["metadata"]["name"], []).append(resources)
    manifests: list[Manifest] = []
    conflicts: list[NameConflict] = []
    for name, sharing in candidates.items():
        if len(sharing) == 1:
            manifests.extend(sharing[0])
            continue
        current = (existing or {}).get(name)
        owner = application_id_of(current) if current is not None else None
        kept = next((resources for resources in sharing if application_id_of(resources[0]) == owner), None)
        if kept is not None:
            manifests.extend(kept)
        ids = tuple(str(application_id_of(resources[0])) for resources in sharing)
        conflicts.append(NameConflict(name, ids, owner if kept is not None else None))
    return manifests, conflicts
