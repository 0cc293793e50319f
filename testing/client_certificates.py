"""Client certificates with a chosen CN from a throwaway CA (trustme), written to files as clients load them.

The event ingress trusts whatever CA file it is given, so its tests need not go through the Connector to get an
application's certificate: a CA here stands in for the pycompass CA the agent stored, and another one for a CA
the ingress does not know.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from pathlib import Path

import trustme

# trustme wants at least one identity; the ingress reads only the subject's CN.
_IDENTITY = "client.invalid"


@dataclass(frozen=True)
class ClientCertificate:
    common_name: str
    cert_file: Path
    key_file: Path

    def context(self, server_ca: Path) -> ssl.SSLContext:
        """A client's context that presents this certificate and trusts ``server_ca``, and only it."""
        context = ssl.create_default_context(cafile=str(server_ca))
        context.load_cert_chain(str(self.cert_file), str(self.key_file))
        return context


class ClientCertificateAuthority:
    """A CA whose certificate is ``ca_file``; ``issue`` gives one certificate per CN (the same on each call)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        self.ca = trustme.CA()
        self.ca_file = directory / "ca.crt"
        self.ca.cert_pem.write_to_path(str(self.ca_file))
        self._issued: dict[str, ClientCertificate] = {}

    def issue(self, common_name: str) -> ClientCertificate:
        issued = self._issued.get(common_name)
        if issued is None:
            leaf = self.ca.issue_cert(_IDENTITY, common_name=common_name)
            stem = f"client-{len(self._issued) + 1}"
            cert_file, key_file = self.directory / f"{stem}.crt", self.directory / f"{stem}.key"
            leaf.cert_chain_pems[0].write_to_path(str(cert_file))
            leaf.private_key_pem.write_to_path(str(key_file))
            issued = self._issued[common_name] = ClientCertificate(common_name, cert_file, key_file)
        return issued
