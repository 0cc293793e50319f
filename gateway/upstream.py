"""The one pooled, kept-alive HTTP client of the gateway (aiohttp: measured 11 × httpx's throughput as a proxy
client at 20 concurrent calls, see ARCHITECTURE.md), and the TLS contexts it uses per call.

One session serves targets, token endpoints and CSRF endpoints. TLS is chosen per call: verified against the
system's CAs (plus ``GATEWAY_TRUSTED_CA_FILE``), unverified when the Application says ``skipVerify``, and with a
client certificate from a Secret. aiohttp keys pooled connections by the TLS context, so a connection opened
with one client certificate is never reused for another.
"""

from __future__ import annotations

import hashlib
import os
import ssl as tls
import tempfile
from collections import OrderedDict
from pathlib import Path

import aiohttp

from gateway.errors import GatewayError
from gateway.outgoing import ClientCertificate

# Contexts with client certificates kept; each is one Secret's key pair, so this bounds memory, not reuse.
_CERTIFICATE_CONTEXTS = 256


class Upstream:
    def __init__(self, *, max_connections: int = 100, trusted_ca_file: Path | None = None) -> None:
        self._max_connections = max_connections
        self._trusted_ca_file = trusted_ca_file
        self._verified = self._context(verify=True)
        self._unverified = self._context(verify=False)
        self._with_certificate: OrderedDict[tuple[bool, bytes], tls.SSLContext] = OrderedDict()
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        connector = aiohttp.TCPConnector(
            limit=self._max_connections, limit_per_host=0, enable_cleanup_closed=True
        )
        # No default headers: the target sees what the caller sent (no User-Agent, Accept or Accept-Encoding
        # added), and bodies pass through as they came (no decompression).
        self._session = aiohttp.ClientSession(
            connector=connector,
            auto_decompress=False,
            skip_auto_headers=("User-Agent", "Accept", "Accept-Encoding"),
            cookie_jar=aiohttp.DummyCookieJar(),
            trust_env=False,
        )

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            raise RuntimeError("Upstream.start() was not awaited")
        return self._session

    def ssl(self, *, skip_verify: bool, certificate: ClientCertificate | None = None) -> tls.SSLContext:
        if certificate is None:
            return self._unverified if skip_verify else self._verified
        key = (skip_verify, hashlib.sha256(certificate.crt + b"\0" + certificate.key).digest())
        context = self._with_certificate.get(key)
        if context is None:
            context = self._context(verify=not skip_verify)
            _load_certificate(context, certificate)
            self._with_certificate[key] = context
            if len(self._with_certificate) > _CERTIFICATE_CONTEXTS:
                self._with_certificate.popitem(last=False)
        else:
            self._with_certificate.move_to_end(key)
        return context

    def _context(self, *, verify: bool) -> tls.SSLContext:
        context = tls.create_default_context()
        if self._trusted_ca_file is not None:
            context.load_verify_locations(cafile=str(self._trusted_ca_file))
        if not verify:
            context.check_hostname = False
            context.verify_mode = tls.CERT_NONE
        return context


def _load_certificate(context: tls.SSLContext, certificate: ClientCertificate) -> None:
    """``ssl`` loads key pairs only from files: a private temporary directory, removed at once."""
    with tempfile.TemporaryDirectory(prefix="compass-gateway-") as directory:
        crt, key = Path(directory) / "tls.crt", Path(directory) / "tls.key"
        for path, content in ((crt, certificate.crt), (key, certificate.key)):
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(descriptor, "wb") as handle:
                handle.write(content)
        try:
            context.load_cert_chain(str(crt), str(key))
        except (tls.SSLError, ValueError, OSError) as exc:
            raise GatewayError(500, f"Failed to prepare certificate, {exc}") from exc
