"""A runtime's client certificate through the Connector, as a Compass agent gets it on its first connection:
a one-time token, ``configuration`` with it (which announces the subject and hands out a signing token), then
``signCertificateSigningRequest`` with a CSR for that subject and an EC P-256 key."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from pathlib import Path

import httpx
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from bench.common import CONNECTOR_PATH, DIRECTOR_PATH, graphql_result

CONFIGURATION = (
    "query { result: configuration() { token { token } certificateSigningRequestInfo { subject keyAlgorithm }"
    " managementPlaneInfo { directorURL certificateSecuredConnectorURL } } }"
)
SUBJECT_OIDS = {
    "O": x509.NameOID.ORGANIZATION_NAME,
    "OU": x509.NameOID.ORGANIZATIONAL_UNIT_NAME,
    "L": x509.NameOID.LOCALITY_NAME,
    "ST": x509.NameOID.STATE_OR_PROVINCE_NAME,
    "C": x509.NameOID.COUNTRY_NAME,
    "CN": x509.NameOID.COMMON_NAME,
}


def sign_document(csr_b64: str) -> str:
    return (
        f'mutation {{ result: signCertificateSigningRequest(csr: "{csr_b64}") '
        "{ certificateChain caCertificate clientCertificate } }"
    )


def certificate_request(subject: str, key: ec.EllipticCurvePrivateKey) -> bytes:
    """A PEM CSR for the announced subject, split on ``,`` and ``=`` as Compass's client does (its attributes
    in the announced order)."""
    pairs = (part.partition("=") for part in subject.split(","))
    name = x509.Name([x509.NameAttribute(SUBJECT_OIDS[short], value) for short, _, value in pairs])
    csr = x509.CertificateSigningRequestBuilder().subject_name(name).sign(key, hashes.SHA256())
    return csr.public_bytes(serialization.Encoding.PEM)


@dataclass(frozen=True)
class AgentCertificate:
    """What the agent keeps: its certificate chain and key in files (``ssl`` loads them from files only)."""

    certificate_pem: str  # the leaf, as the HTTPS listener hands it to the app
    chain_file: Path
    key_file: Path


async def certify(
    client: httpx.AsyncClient, token: str, chain_file: Path, key_file: Path
) -> AgentCertificate:
    """``configuration`` and ``signCertificateSigningRequest`` with a one-time runtime ``token``; the chain
    and the new key written to the files. ``client`` speaks plain HTTP to the server (or the ASGI app)."""
    configuration = await graphql_result(client, CONNECTOR_PATH, CONFIGURATION, {"Connector-Token": token})
    key = ec.generate_private_key(ec.SECP256R1())
    csr = certificate_request(configuration["certificateSigningRequestInfo"]["subject"], key)
    signing_token = {"Connector-Token": configuration["token"]["token"]}
    document = sign_document(base64.b64encode(csr).decode())
    signed = await graphql_result(client, CONNECTOR_PATH, document, signing_token)
    chain_file.write_bytes(base64.b64decode(signed["certificateChain"]))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    key_file.chmod(0o600)
    return AgentCertificate(base64.b64decode(signed["clientCertificate"]).decode(), chain_file, key_file)


async def connect_runtime(
    client: httpx.AsyncClient, headers: dict[str, str], runtime_id: str, directory: Path
) -> AgentCertificate:
    """The first connection of a Compass agent: an operator (``headers``) asks for the runtime's one-time
    token, then ``certify`` with it; the files in ``directory``."""
    token_document = f'mutation {{ result: requestOneTimeTokenForRuntime(id: "{runtime_id}") {{ token }} }}'
    token = (await graphql_result(client, DIRECTOR_PATH, token_document, headers))["token"]
    return await certify(client, token, directory / "agent-chain.pem", directory / "agent-key.pem")
