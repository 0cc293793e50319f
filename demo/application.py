"""The shop's side of the seed tutorial: what an external application does with the info URL an operator hands
it, call by call, over the REST API of the tutorials (README "The REST API of the tutorials").

GET the info URL → make a key here and a CSR for the announced subject → POST it to ``csrUrl`` → from then on
call with the client certificate: ``management/info``, register the API and events at ``metadataUrl``, and send
events to ``eventsUrl`` (the runtime's event ingress, in the seed's legacy format).
"""

from __future__ import annotations

import base64
import json
import ssl
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from demo.checks import StepFailed

KEY_BITS = 2048  # the announced key-algorithm, rsa2048
TIMEOUT = 30.0


@dataclass(frozen=True)
class Info:
    """The info URL's answer: where to send the CSR, the application's URLs, the subject to ask for."""

    csr_url: str
    metadata_url: str
    events_url: str
    management_info_url: str
    subject: str

    @classmethod
    def read(cls, info_url: str) -> Info:
        body = _json(httpx.get(info_url, timeout=TIMEOUT), 200, "GET the info URL")
        return cls(
            csr_url=body["csrUrl"],
            metadata_url=body["api"]["metadataUrl"],
            events_url=body["api"]["eventsUrl"],
            management_info_url=body["api"]["infoUrl"],
            subject=body["certificate"]["subject"],
        )


@dataclass(frozen=True)
class Certificate:
    """The application's key and certificate chain in files (the TLS client loads them from there), and the
    Connector's CA, which also signed the server's mTLS listener."""

    key_file: Path
    chain_file: Path
    ca_file: Path

    @property
    def client(self) -> x509.Certificate:
        return x509.load_pem_x509_certificate(self.chain_file.read_bytes())

    def context(self, trusted: Path | None = None) -> ssl.SSLContext:
        """A TLS context presenting this certificate, trusting ``trusted`` (default: the Connector's CA)."""
        context = ssl.create_default_context(cafile=str(trusted or self.ca_file))
        context.load_cert_chain(self.chain_file, self.key_file)
        return context


def key_and_csr(subject: str) -> tuple[rsa.RSAPrivateKey, x509.CertificateSigningRequest]:
    """A new key, and a CSR for exactly ``subject`` (``O=Org,OU=OrgUnit,…,CN=<client id>``)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=KEY_BITS)
    name = x509.Name.from_rfc4514_string(subject)
    return key, x509.CertificateSigningRequestBuilder().subject_name(name).sign(key, hashes.SHA256())


def request_certificate(
    csr_url: str, key: rsa.RSAPrivateKey, csr: x509.CertificateSigningRequest, directory: Path
) -> Certificate:
    """POST the CSR to ``csrUrl``; the key and what came back, in files under ``directory`` (mode 0600)."""
    encoded = base64.b64encode(csr.public_bytes(serialization.Encoding.PEM)).decode()
    body = _json(httpx.post(csr_url, json={"csr": encoded}, timeout=TIMEOUT), 201, "POST the CSR to csrUrl")
    files = {
        "application.key": key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ),
        "application.crt": base64.b64decode(body["crt"]),
        "ca.crt": base64.b64decode(body["caCrt"]),
    }
    for name, content in files.items():
        path = directory / name
        path.touch(mode=0o600)
        path.write_bytes(content)
    return Certificate(directory / "application.key", directory / "application.crt", directory / "ca.crt")


def management_info(url: str, certificate: Certificate) -> dict[str, Any]:
    with httpx.Client(verify=certificate.context(), timeout=TIMEOUT) as client:
        info: dict[str, Any] = _json(client.get(url), 200, "GET management/info")
    return info


def register_service(metadata_url: str, certificate: Certificate, service: dict[str, Any]) -> str:
    """``POST /<app>/v1/metadata/services``: the new service's id (a bundle's, in the Director)."""
    with httpx.Client(verify=certificate.context(), timeout=TIMEOUT) as client:
        return str(_json(client.post(metadata_url, json=service), 200, "POST the service to metadataUrl")["id"])


def legacy_event(event_type: str, version: str, data: object) -> dict[str, Any]:
    """An event in the seed's ``/<app>/v1/events`` format, with a fresh id and the current time."""
    return {
        "event-type": event_type,
        "event-type-version": version,
        "event-id": str(uuid.uuid4()),
        "event-time": datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        "data": data,
    }


def send_event(events_url: str, certificate: Certificate, ingress_ca: Path, event: dict[str, Any]) -> dict[str, Any]:
    """POST ``event`` to ``eventsUrl`` over mTLS: the ingress verifies the client certificate against the CA
    the runtime's agent stored; the application trusts the ingress's serving CA ``ingress_ca``."""
    with httpx.Client(verify=certificate.context(ingress_ca), timeout=TIMEOUT) as client:
        accepted: dict[str, Any] = _json(client.post(events_url, json=event), 200, "POST the event to eventsUrl")
    return accepted


def service_details(*, shop_url: str, client_id: str, client_secret: str) -> dict[str, Any]:
    """The seed's service registration: the orders API with its OAuth credentials and OpenAPI spec, the
    order events as AsyncAPI, and documentation (DATAPLANE.md D.2)."""
    return {
        "provider": "ACME",
        "name": "orders",
        "description": "The shop's orders: an API and the events it sends",
        "shortDescription": "Orders",
        "identifier": "shop-orders",
        "labels": {"team": "shop"},
        "api": {
            "targetUrl": f"{shop_url}/api",
            "credentials": {
                "oauth": {"url": f"{shop_url}/oauth/token", "clientId": client_id, "clientSecret": client_secret}
            },
            "spec": _OPEN_API,
        },
        "events": {"spec": _ASYNC_API},
        "documentation": {
            "displayName": "Orders",
            "description": "How to read orders and which events the shop sends",
            "type": "Integration",
            "tags": ["orders"],
            "docs": [
                {
                    "title": "Getting started",
                    "type": "markdown",
                    "source": "# Orders\nGET /orders lists them; order.created.v1 announces a new one.",
                }
            ],
        },
    }


_OPEN_API: dict[str, Any] = {
    "openapi": "3.0.0",
    "info": {"title": "Orders", "version": "1.0.0"},
    "paths": {
        "/orders": {"get": {"summary": "List orders", "responses": {"200": {"description": "The orders"}}}},
        "/orders/{id}": {
            "get": {
                "summary": "One order",
                "parameters": [{"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}],
                "responses": {"200": {"description": "The order"}, "404": {"description": "No such order"}},
            }
        },
    },
}
_ASYNC_API: dict[str, Any] = {
    "asyncapi": "1.0.0",
    "info": {"title": "Order events", "version": "1.0.0"},
    "topics": {
        "order.created.v1": {
            "subscribe": {
                "summary": "An order was placed",
                "payload": {"type": "object", "properties": {"orderId": {"type": "string"}}},
            }
        }
    },
}


def _json(answer: httpx.Response, status: int, call: str) -> Any:
    if answer.status_code != status:
        raise StepFailed(f"{call}: expected {status}, got {answer.status_code} {answer.text[:300]}")
    try:
        return answer.json()
    except json.JSONDecodeError as error:
        raise StepFailed(f"{call}: the answer is not JSON: {answer.text[:300]}") from error
