"""A CA and a server certificate for TLS stand-in servers (trustme), written to files as servers load them.

For a server that only has to speak TLS in a test, not for anything about pycompass's own CA: tests of that
CA and of the Connector use ``connector.ca.CertificateAuthority``.
"""

from __future__ import annotations

import os
import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import trustme
from httpx._transports import default as transports

LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")


@dataclass(frozen=True)
class StandInTLS:
    ca: trustme.CA
    ca_file: Path
    cert_file: Path
    """The server's certificate followed by its chain."""
    key_file: Path

    def client_context(self) -> ssl.SSLContext:
        """A client's context that trusts this CA, and only it."""
        return ssl.create_default_context(cafile=str(self.ca_file))


def tls_stand_in(directory: Path, hosts: Sequence[str] = LOOPBACK_NAMES) -> StandInTLS:
    """A new CA and a server certificate (EC P-256) for ``hosts``, in files under ``directory``."""
    ca = trustme.CA()
    leaf = ca.issue_cert(*hosts)
    ca_file, cert_file, key_file = (directory / name for name in ("ca.pem", "server.pem", "server-key.pem"))
    ca.cert_pem.write_to_path(str(ca_file))
    for index, blob in enumerate(leaf.cert_chain_pems):
        blob.write_to_path(str(cert_file), append=index > 0)
    leaf.private_key_pem.write_to_path(str(key_file))
    return StandInTLS(ca, ca_file, cert_file, key_file)


def share_httpx_default_tls_context() -> None:
    """Every httpx client of this process that verifies against the default CAs gets one shared context.

    httpx builds a new one for each client, even one that never speaks TLS (a test's ``httpx.get``, a client over
    ASGI), reading certifi's bundle again: ~30 ms of CPU a client, 8 % of a worker's CPU in a profile of twelve
    test files. A client given its own context or ``verify=False`` is untouched, and so is the product's code.
    """
    build = transports.create_ssl_context

    @cache
    def shared(trust_env: bool, cafile: str | None, capath: str | None) -> ssl.SSLContext:
        """One per environment httpx reads (``cafile``, ``capath``: SSL_CERT_FILE, SSL_CERT_DIR)."""
        return build(True, None, trust_env)

    def create_ssl_context(verify: object = True, cert: object = None, trust_env: bool = True) -> ssl.SSLContext:
        if verify is True and cert is None:
            return shared(trust_env, os.environ.get("SSL_CERT_FILE"), os.environ.get("SSL_CERT_DIR"))
        return build(verify, cert, trust_env)  # type: ignore[arg-type]

    transports.create_ssl_context = create_ssl_context
