"""The connectivity validator in front of the ingress (DATAPLANE.md B.2, B.3): whose certificate is this, is its
application in the runtime, may it act for that application, and which format does the path ask for.

The certificate comes from the TLS handshake (the ASGI ``tls`` extension's leaf, already verified against the
agent's CA by the listener) or, only when the peer is one of ``EVENTS_TRUSTED_PROXIES``, from the
``Subject="..."`` values of its X-Forwarded-Client-Cert (Envoy's format, as Kyma's validator reads it behind
Istio). A trusted proxy must set the header itself (Envoy's SANITIZE_SET): every Subject in it is believed.

Unlike Kyma's validator, the XFCC header is parsed by its grammar (quoted values with escaped quotes, RFC 4514
names): a header that does not parse carries no subject (403), never a crash.
"""

from __future__ import annotations

import functools
import ipaddress
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any

import structlog
from cryptography import x509
from cryptography.x509.oid import NameOID

from dataplane.catalog.base import Catalog, CatalogError
from dataplane.catalog.model import Application

log = structlog.get_logger("events.validator")

KYMA_CONTENT_TYPE = b"application/json;charset=UTF-8"
XFCC_HEADER = b"x-forwarded-client-cert"

NO_CERTIFICATE = "X-Forwarded-Client-Cert header not found"
NO_VALID_SUBJECT = "no valid subject found"
NOT_ROUTED = "could not determine destination host, requested resource not found"

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

# One key=value pair of an XFCC element and what follows it: ";" (next pair), "," (next element) or the end.
# Each part's character classes exclude what follows it, so a failed match costs one pass, not a backtrack.
_XFCC_PAIR = re.compile(r'[ \t]*([^=;,\s"]+)=(?:"((?:[^"\\]|\\.)*)"|([^;,"\s]*))[ \t]*([;,]|\Z)', re.DOTALL)
_XFCC_ESCAPE = re.compile(r"\\(.)", re.DOTALL)


class Refusal(Exception):
    """An answer other than success, in the shape the caller's format expects; ``application`` names the
    application when it exists (the metrics label only those)."""

    def __init__(self, status: int, body: bytes, content_type: bytes, application: str | None = None) -> None:
        super().__init__(status, body)
        self.status = status
        self.body = body
        self.content_type = content_type
        self.application = application


def json_body(document: object) -> bytes:
    """As Go's ``json.Encoder`` writes it, which Kyma's components answer with: compact, one line."""
    return (json.dumps(document, separators=(",", ":")) + "\n").encode()


def kyma_error(status: int, message: str, application: str | None = None) -> Refusal:
    """Kyma's validator error: ``{"code":N,"error":"..."}``."""
    return Refusal(status, json_body({"code": status, "error": message}), KYMA_CONTENT_TYPE, application)


class Destination(Enum):
    LEGACY = "legacy"
    CLOUDEVENTS = "cloudevents"


_PREFIXES = (("/v1/events", Destination.LEGACY), ("/v2/events", Destination.CLOUDEVENTS))


def destination_of(remainder: str) -> Destination | None:
    """Kyma's prefixes (``/v1/events``, ``/v2/events``, ``/events``), matched on whole segments."""
    for prefix, destination in (*_PREFIXES, ("/events", Destination.CLOUDEVENTS)):
        if remainder == prefix or remainder.startswith(prefix + "/"):
            return destination
    return None


def split_path(path: str) -> tuple[str, str] | None:
    """``/<app>/<rest>`` → (app, "/<rest>"); None when there is no second segment (``/app``)."""
    application, separator, rest = path.removeprefix("/").partition("/")
    if not separator or not application:
        return None
    return application, "/" + rest


@dataclass(frozen=True)
class Admitted:
    application: Application
    destination: Destination
    remainder: str  # the path after /<app>: "/v1/events", "/v1/events/subscribed", "/events", ...


class Validator:
    def __init__(self, catalog: Catalog, trusted_proxies: Iterable[Network] = ()) -> None:
        self.catalog = catalog
        self.trusted_proxies = tuple(trusted_proxies)

    def admit(self, scope: Mapping[str, Any]) -> Admitted:
        """The ladder, in Kyma's order: certificate (500), application (404), subject (403), path (404).

        Raises:
            Refusal: the step that failed, with Kyma's status and message.
        """
        parts = split_path(scope["path"])
        if parts is None:
            raise kyma_error(404, NOT_ROUTED)
        name, remainder = parts
        common_names = self.common_names(scope)
        if common_names is None:
            raise kyma_error(500, NO_CERTIFICATE)
        application = self._application(name)
        allowed = application.client_ids or (application.name,)
        if not any(common_name in allowed for common_name in common_names):
            raise kyma_error(403, NO_VALID_SUBJECT, application.name)
        destination = destination_of(remainder)
        if destination is None:
            raise kyma_error(404, NOT_ROUTED, application.name)
        return Admitted(application, destination, remainder)

    def common_names(self, scope: Mapping[str, Any]) -> list[str] | None:
        """The CNs the caller may act as; None when it presented no certificate at all."""
        chain = scope.get("extensions", {}).get("tls", {}).get("client_cert_chain") or ()
        if chain:
            return list(_leaf_common_names(chain[0]))
        if not self._from_trusted_proxy(scope):
            return None
        header = b",".join(value for key, value in scope["headers"] if key.lower() == XFCC_HEADER)
        if not header.strip():
            return None
        return [
            name
            for subject in xfcc_subjects(header.decode("latin-1"))
            for name in _subject_common_names(subject)
        ]

    def _from_trusted_proxy(self, scope: Mapping[str, Any]) -> bool:
        client = scope.get("client")
        if not self.trusted_proxies or not client:
            return False
        try:
            address = ipaddress.ip_address(client[0])
        except ValueError:  # a Unix socket's peer, or anything else that is no IP address
            return False
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        return any(address in network for network in self.trusted_proxies)

    def _application(self, name: str) -> Application:
        if not self.catalog.ready:
            raise _not_in_cache(name)
        try:
            application = self.catalog.application(name)
        except CatalogError as exc:
            log.warning("application_unreadable", application=name, reason=str(exc))
            raise _not_in_cache(name) from exc
        if application is None:
            raise _not_in_cache(name)
        return application


def _not_in_cache(name: str) -> Refusal:
    return kyma_error(
        404,
        f"while getting application ClientIds: application data for name {name} is not found in the cache. "
        "Please retry",
    )


def xfcc_subjects(header: str) -> list[str]:
    """The non-empty ``Subject`` values of every element; none when the header does not parse."""
    subjects: list[str] = []
    position = 0
    while True:
        pair = _XFCC_PAIR.match(header, position)
        if pair is None:
            return []
        key, quoted, bare, separator = pair.groups()
        value = bare if quoted is None else _XFCC_ESCAPE.sub(r"\1", quoted)
        if key.lower() == "subject" and value:
            subjects.append(value)
        if not separator:
            return subjects
        position = pair.end()


def _common_names(name: x509.Name) -> tuple[str, ...]:
    """The one CN of a name; none when it has none or several (which of them would be meant?)."""
    values = name.get_attributes_for_oid(NameOID.COMMON_NAME)
    return (str(values[0].value),) if len(values) == 1 else ()


@functools.lru_cache(maxsize=1024)
def _leaf_common_names(pem: str) -> tuple[str, ...]:
    """Cached: a keep-alive client sends the same certificate with every event."""
    try:
        return _common_names(x509.load_pem_x509_certificate(pem.encode("ascii")).subject)
    except ValueError:
        return ()


@functools.lru_cache(maxsize=1024)
def _subject_common_names(subject: str) -> tuple[str, ...]:
    try:
        return _common_names(x509.Name.from_rfc4514_string(subject))
    except ValueError:  # not an RFC 4514 name, or an attribute type cryptography does not know
        return ()
