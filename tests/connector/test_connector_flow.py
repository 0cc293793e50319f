"""The whole Connector flow as a client walks it, over real HTTP and real TLS sockets.

An operator asks the Director for a one-time token; the client redeems it with Compass's `configuration()`,
generates a key and a CSR for exactly the announced subject, gets it signed, and from then on calls the
Director and the Connector over mTLS with its certificate: it reads what it may, renews, and finally revokes.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID

from tests.connector.support import (
    CONFIGURATION,
    CONNECTOR,
    REVOKE,
    Answer,
    Harness,
    b64,
    common_name,
    csr_b64,
    post_graphql,
    rsa_key,
    sign_document,
    unb64,
)

APPLICATIONS_FOR_RUNTIME = (
    'query { result: applicationsForRuntime(runtimeID: "%s") { data { id } totalCount } }'
)
RUNTIME_AUTHS = "query ($id: ID!) { result: runtime(id: $id) { auths { id } } }"
APPLICATION_AUTHS = "query ($id: ID!) { result: application(id: $id) { auths { id } } }"
APPLICATION = 'query { result: application(id: "%s") { id name } }'
SUBJECT = "O=Org,OU=OrgUnit,L=Locality,ST=State,C=PL,CN=%s"


def pem_certificates(value: str) -> list[x509.Certificate]:
    return x509.load_pem_x509_certificates(unb64(value))


async def test_runtime_connects_reads_its_applications_renews_and_revokes(connector: Harness) -> None:
    # given: an application and a runtime in one formation, and a token for the runtime
    operator = await connector.operator()
    application_id = await connector.register_application(operator, scenarios=["DEFAULT"])
    runtime_id = await connector.register_runtime(operator, scenarios=["DEFAULT"])
    token = await connector.runtime_token(operator, runtime_id)

    # when: the runtime redeems its token
    configuration = (await connector.connector(CONFIGURATION, token=token)).result

    # then: it learns the subject (CN = its client id), the key algorithm, a signing token, where to go next
    [auth] = (await operator.query(RUNTIME_AUTHS, {"id": runtime_id}))["result"]["auths"]
    subject = configuration["certificateSigningRequestInfo"]["subject"]
    assert subject == SUBJECT % auth["id"]
    assert configuration["certificateSigningRequestInfo"]["keyAlgorithm"] == "rsa2048"
    assert configuration["token"]["token"] not in ("", token)
    assert configuration["managementPlaneInfo"] == {
        "directorURL": f"{connector.server.https_url}/director/graphql",
        "certificateSecuredConnectorURL": f"{connector.server.https_url}/connector/graphql",
    }

    # when: it sends a CSR for exactly that subject with an RSA 2048 key, authenticated by the signing token
    key = rsa_key()
    signed = (
        await connector.connector(sign_document(csr_b64(key, subject)), token=configuration["token"]["token"])
    ).result

    # then: a client certificate for its key and subject, followed by the CA
    client_certificate, ca_certificate = pem_certificates(signed["certificateChain"])
    assert pem_certificates(signed["clientCertificate"]) == [client_certificate]
    assert pem_certificates(signed["caCertificate"]) == [ca_certificate] == [connector.ca.certificate]
    expected_subject = f"CN={auth['id']},C=PL,ST=State,L=Locality,OU=OrgUnit,O=Org"
    assert client_certificate.subject.rfc4514_string() == expected_subject
    certified_key = client_certificate.public_key()
    assert isinstance(certified_key, rsa.RSAPublicKey)
    assert certified_key.public_numbers() == key.public_key().public_numbers()
    usage = client_certificate.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(usage) == [ExtendedKeyUsageOID.CLIENT_AUTH]

    # when: it calls the Director at the announced mTLS URL with its certificate
    credentials = connector.credentials(signed, key)
    mtls = connector.mtls(credentials)
    director_url = configuration["managementPlaneInfo"]["directorURL"]
    connector_url = configuration["managementPlaneInfo"]["certificateSecuredConnectorURL"]
    seen = await post_graphql(mtls, director_url, APPLICATIONS_FOR_RUNTIME % runtime_id)

    # then: it sees the application of its formation
    assert [item["id"] for item in seen.result["data"]] == [application_id]

    # when: it renews over mTLS: configuration, then a CSR with a new key
    renewal = await connector_call(mtls, connector_url, CONFIGURATION)
    new_key = rsa_key()
    renewal_subject = renewal.result["certificateSigningRequestInfo"]["subject"]
    renewal_csr = sign_document(csr_b64(new_key, renewal_subject))
    renewed = await connector_call(mtls, connector_url, renewal_csr)

    # then: a new certificate, new serial, same subject
    [renewed_certificate, _] = pem_certificates(renewed.result["certificateChain"])
    assert renewal_subject == subject
    assert renewed_certificate.serial_number != client_certificate.serial_number
    assert renewed_certificate.subject == client_certificate.subject

    # when: it revokes the renewed certificate with that certificate
    renewed_mtls = connector.mtls(connector.credentials(renewed.result, new_key))
    revoked = await connector_call(renewed_mtls, connector_url, REVOKE)

    # then: that certificate can neither renew nor call the Director any more
    assert revoked.result is True
    refused_renewal = await connector_call(renewed_mtls, connector_url, CONFIGURATION)
    refused_call = await post_graphql(renewed_mtls, director_url, APPLICATIONS_FOR_RUNTIME % runtime_id)
    assert refused_renewal.codes == refused_call.codes == ["CERTIFICATE_REVOKED"]
    assert refused_renewal.body["data"] is None


async def connector_call(client: httpx.AsyncClient, url: str, document: str) -> Answer:
    """A Connector call to the absolute URL announced in managementPlaneInfo."""
    assert url.endswith(CONNECTOR)
    return await post_graphql(client, url, document)


async def test_application_reads_itself_but_not_another_application(connector: Harness) -> None:
    # given: two applications of one tenant, the first connected
    operator = await connector.operator()
    other_id = await connector.register_application(operator)
    application = await connector.connect_application(operator)
    mtls = connector.mtls(application.credentials)

    # when
    itself = await connector.director(mtls, APPLICATION % application.object_id)
    other = await connector.director(mtls, APPLICATION % other_id)

    # then
    assert itself.result["id"] == application.object_id
    assert other.codes == ["FORBIDDEN"]
    assert other.body["data"] == {"result": None}


async def test_application_certificate_carries_its_system_auth_id(connector: Harness) -> None:
    # given
    operator = await connector.operator()

    # when
    application = await connector.connect_application(operator)

    # then
    [auth] = (await operator.query(APPLICATION_AUTHS, {"id": application.object_id}))["result"]["auths"]
    assert application.client_id == auth["id"]
    assert application.subject == SUBJECT % auth["id"]


async def test_compass_client_documents_work_verbatim(connector: Harness) -> None:
    """Compass's Connector client: `configuration()` with empty parentheses, values inline, `result:`."""
    # given
    operator = await connector.operator()
    runtime_id = await connector.register_runtime(operator)
    token = await connector.runtime_token(operator, runtime_id)

    # when
    configuration = await connector.connector(CONFIGURATION, token=token)
    subject = configuration.result["certificateSigningRequestInfo"]["subject"]
    key = rsa_key()
    signing_token = configuration.result["token"]["token"]
    signed = await connector.connector(sign_document(csr_b64(key, subject)), token=signing_token)
    mtls = connector.mtls(connector.credentials(signed.result, key))
    revoked = await connector.connector(REVOKE, client=mtls)

    # then: answers in exactly the shapes Compass's client decodes
    assert configuration.status == signed.status == revoked.status == 200
    assert set(configuration.result) == {"token", "certificateSigningRequestInfo", "managementPlaneInfo"}
    assert set(signed.result) == {"certificateChain", "caCertificate", "clientCertificate"}
    assert revoked.body == {"data": {"result": True}}


# --- the same flow with the openssl and curl command-line tools, as the Compass tutorials do ----------------


def run(*command: str, cwd: Path) -> str:
    completed = subprocess.run(command, cwd=cwd, capture_output=True, text=True, check=False, timeout=60)
    assert completed.returncode == 0, completed.stderr
    return completed.stdout


def curl(cwd: Path, url: str, document: str, *options: str) -> dict[str, Any]:
    body = json.dumps({"query": document, "variables": None})
    output = run(
        "curl", "--silent", "--show-error", "-H", "Content-Type: application/json; charset=utf-8",
        "--data-binary", body, *options, url, cwd=cwd,
    )
    return dict(json.loads(output))


@pytest.mark.skipif(
    shutil.which("openssl") is None or shutil.which("curl") is None, reason="needs openssl and curl"
)
async def test_runtime_connects_with_openssl_and_curl(connector: Harness, tmp_path: Path) -> None:
    # given: a runtime in a formation with an application, and its token
    operator = await connector.operator()
    application_id = await connector.register_application(operator, scenarios=["DEFAULT"])
    runtime_id = await connector.register_runtime(operator, scenarios=["DEFAULT"])
    token = await connector.runtime_token(operator, runtime_id)
    token_url = f"{connector.server.http_url}{CONNECTOR}"

    # when: configuration with curl, key and CSR with openssl, signing with curl
    configuration = curl(tmp_path, token_url, CONFIGURATION, "-H", f"Connector-Token: {token}")
    configuration = configuration["data"]["result"]
    client_id = common_name_of(configuration["certificateSigningRequestInfo"]["subject"])
    run("openssl", "genrsa", "-out", "key.pem", "2048", cwd=tmp_path)
    subject = f"/O=Org/OU=OrgUnit/L=Locality/ST=State/C=PL/CN={client_id}"
    run("openssl", "req", "-new", "-key", "key.pem", "-subj", subject, "-out", "csr.pem", cwd=tmp_path)
    csr = b64((tmp_path / "csr.pem").read_bytes())
    signing_token = configuration["token"]["token"]
    signed = curl(tmp_path, token_url, sign_document(csr), "-H", f"Connector-Token: {signing_token}")
    signed = signed["data"]["result"]
    (tmp_path / "cert.pem").write_bytes(unb64(signed["certificateChain"]))
    (tmp_path / "ca.pem").write_bytes(unb64(signed["caCertificate"]))

    # then: the certificate carries openssl's key and works with curl over mTLS
    mtls = ("--cacert", "ca.pem", "--cert", "cert.pem", "--key", "key.pem")
    director_url = configuration["managementPlaneInfo"]["directorURL"]
    seen = curl(tmp_path, director_url, APPLICATIONS_FOR_RUNTIME % runtime_id, *mtls)
    [certificate, _] = x509.load_pem_x509_certificates((tmp_path / "cert.pem").read_bytes())
    openssl_key = serialization.load_pem_private_key((tmp_path / "key.pem").read_bytes(), password=None)
    assert common_name(certificate) == client_id
    assert certificate.public_key() == openssl_key.public_key()
    assert seen == {"data": {"result": {"data": [{"id": application_id}], "totalCount": 1}}}

    # when: renewal and revocation with curl over mTLS
    connector_url = configuration["managementPlaneInfo"]["certificateSecuredConnectorURL"]
    renewal = curl(tmp_path, connector_url, CONFIGURATION, *mtls)["data"]["result"]
    run("openssl", "req", "-new", "-key", "key.pem", "-subj", subject, "-out", "renew.pem", cwd=tmp_path)
    renewed = curl(tmp_path, connector_url, sign_document(b64((tmp_path / "renew.pem").read_bytes())), *mtls)
    revoked = curl(tmp_path, connector_url, REVOKE, *mtls)
    refused = curl(tmp_path, connector_url, CONFIGURATION, *mtls)

    # then
    assert common_name_of(renewal["certificateSigningRequestInfo"]["subject"]) == client_id
    renewed_pem = unb64(renewed["data"]["result"]["clientCertificate"])
    renewed_certificate = x509.load_pem_x509_certificate(renewed_pem)
    assert renewed_certificate.serial_number != certificate.serial_number
    assert revoked == {"data": {"result": True}}
    assert [error["extensions"]["code"] for error in refused["errors"]] == ["CERTIFICATE_REVOKED"]


def common_name_of(subject: str) -> str:
    return subject.rsplit(",CN=", 1)[1]
