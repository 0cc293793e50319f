"""A CA and a server certificate for TLS stand-in servers (trustme), written to files as servers load them.

For a server that only has to speak TLS in a test, not for anything about pycompass's own CA: tests of that
CA and of the Connector use ``connector.ca.CertificateAuthority``.
"""

from __future__ import annotations

import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import trustme

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
