"""The ASGI TLS extension for uvicorn, which verifies client certificates but does not hand them to the app.

A package of its own because both sides use it: the server's HTTPS listener (compass/server.py) and the
runtime side's (dataplane/tls.py, the event ingress); it imports nothing of ours.

``TLSHttpToolsProtocol`` (pass it as uvicorn's ``http``) adds ``scope["extensions"]["tls"]`` to every HTTP
request that arrives over TLS, in the shape of https://asgi.readthedocs.io/en/latest/specs/tls.html; plain
HTTP requests get no ``tls`` extension at all. Everything above reads only that extension (through
``client_certificate_from_scope``), so when uvicorn implements it this module can simply go.

With ``ssl_cert_reqs=CERT_OPTIONAL`` OpenSSL has already verified the client certificate against
``ssl_ca_certs`` during the handshake (a foreign or expired certificate never gets this far), so
``client_cert_error`` is always None. ``client_cert_chain`` holds the leaf only: Python 3.11's ssl module
exposes no other certificate of the peer's chain. WebSocket scopes are built elsewhere in uvicorn and do not
get the extension.
"""

from __future__ import annotations

import functools
import ssl
from collections.abc import Mapping
from typing import Any

from cryptography import x509
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

TLS_EXTENSION = "tls"
_TLS_VERSIONS = {"TLSv1": 0x0301, "TLSv1.1": 0x0302, "TLSv1.2": 0x0303, "TLSv1.3": 0x0304}
# OpenSSL cipher name -> IANA 16-bit id, filled from the server context on first sight of a name.
_CIPHER_IDS: dict[str, int] = {}


def _cipher_suite_id(ssl_object: ssl.SSLObject) -> int | None:
    cipher = ssl_object.cipher()
    if cipher is None:
        return None
    name = cipher[0]
    if name not in _CIPHER_IDS:
        # OpenSSL ids are 0x0300XXXX with the IANA id in the low 16 bits.
        ciphers = ssl_object.context.get_ciphers()
        _CIPHER_IDS.update({entry["name"]: entry["id"] & 0xFFFF for entry in ciphers})
    return _CIPHER_IDS.get(name)


def tls_extension(ssl_object: ssl.SSLObject) -> dict[str, Any]:
    """The ASGI ``tls`` extension for one established TLS connection."""
    der = ssl_object.getpeercert(binary_form=True)
    chain: list[str] = []
    name: str | None = None
    if der:
        chain.append(ssl.DER_cert_to_PEM_cert(der))
        try:
            name = x509.load_der_x509_certificate(der).subject.rfc4514_string()
        except ValueError:  # OpenSSL accepted what cryptography cannot read; the name is only informative
            name = None
    version = ssl_object.version()
    return {
        "server_cert": None,
        "client_cert_chain": chain,
        "client_cert_name": name,
        "client_cert_error": None,
        "tls_version": _TLS_VERSIONS.get(version) if version else None,
        "cipher_suite": _cipher_suite_id(ssl_object),
    }


class TLSHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol plus the ASGI TLS extension in every request scope."""

    _tls: dict[str, Any] | None = None

    def connection_made(self, transport: Any) -> None:
        super().connection_made(transport)
        # asyncio calls this after the handshake, so the peer certificate is final for the connection's life.
        ssl_object = transport.get_extra_info("ssl_object")
        self._tls = tls_extension(ssl_object) if ssl_object is not None else None

    def on_message_begin(self) -> None:
        super().on_message_begin()  # builds a fresh self.scope for the request
        if self._tls is not None:
            extensions = self.scope.setdefault("extensions", {})
            # A copy per request: the app may not change what later requests on the connection see.
            tls: dict[object, object] = dict(self._tls.items())
            tls["client_cert_chain"] = [*self._tls["client_cert_chain"]]
            extensions[TLS_EXTENSION] = tls


@functools.lru_cache(maxsize=1024)
def _load_pem_certificate(pem: str) -> x509.Certificate | None:
    try:
        return x509.load_pem_x509_certificate(pem.encode("ascii"))
    except ValueError:
        return None


def client_certificate_from_scope(scope: Mapping[str, Any]) -> x509.Certificate | None:
    """The verified client certificate of the request, or None (plain HTTP, no certificate, unreadable).

    Parsed certificates are cached by PEM: a client sends the same certificate on every request.
    """
    tls = (scope.get("extensions") or {}).get(TLS_EXTENSION)
    if not tls:
        return None
    chain = tls.get("client_cert_chain") or []
    if not chain:
        return None
    return _load_pem_certificate(chain[0])
