"""A client certificate from the Connector, sent as a trusted proxy forwards it (``X-Forwarded-Client-Cert``), so
an in-process test can act as a connected runtime or application without a TLS socket."""

from __future__ import annotations

import base64
from urllib.parse import quote

import httpx
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

CONNECTOR = "/connector/graphql"
CONFIGURATION = "{ result: configuration { token { token } certificateSigningRequestInfo { subject } } }"
SIGN = 'mutation { result: signCertificateSigningRequest(csr: "%s") { clientCertificate } }'


async def forwarded_certificate_headers(client: httpx.AsyncClient, token: str) -> dict[str, str]:
    """Redeems the one-time ``token`` at the Connector, signs a CSR for the announced subject, and answers the
    header that carries the issued certificate."""
    configuration = (
        await client.post(CONNECTOR, json={"query": CONFIGURATION}, headers={"Connector-Token": token})
    ).json()["data"]["result"]
    # The subject comes as Compass writes it (O first, CN last); RFC 4514 lists the RDNs the other way round.
    subject = x509.Name.from_rfc4514_string(
        ",".join(reversed(configuration["certificateSigningRequestInfo"]["subject"].split(",")))
    )
    key = ec.generate_private_key(ec.SECP256R1())
    csr = x509.CertificateSigningRequestBuilder().subject_name(subject).sign(key, hashes.SHA256())
    encoded = base64.b64encode(csr.public_bytes(serialization.Encoding.PEM)).decode()
    signed = await client.post(
        CONNECTOR,
        json={"query": SIGN % encoded},
        headers={"Connector-Token": configuration["token"]["token"]},
    )
    certificate = base64.b64decode(signed.json()["data"]["result"]["clientCertificate"]).decode()
    return {"X-Forwarded-Client-Cert": f'Hash=x;Cert="{quote(certificate)}"'}
