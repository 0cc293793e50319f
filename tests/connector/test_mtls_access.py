"""Whom a client certificate lets in over mTLS, and what it lets them do: their own runtime or application.

A certificate the TLS handshake cannot verify (foreign CA, expired) never reaches the application; a verified
one must also be on record here; a recorded one sees only its own runtime or application, in its own tenant.
"""

from __future__ import annotations

import ssl
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes

from connector.ca import CertificateAuthority, CertificateSubject
from credentials.models import IssuedCertificate
from tests.connector.support import (
    Answer,
    Connected,
    Credentials,
    Harness,
    client_ssl_context,
    ec_key,
    name_of,
)

RUNTIME = 'query { result: runtime(id: "%s") { id } }'
APPLICATIONS_FOR_RUNTIME = 'query { result: applicationsForRuntime(runtimeID: "%s") { data { id } } }'
APPLICATION = 'query { result: application(id: "%s") { id } }'
UPDATE_APPLICATION = (
    'mutation { result: updateApplication(id: "%s", in: {description: "%s"}) { id description } }'
)
SET_RUNTIME_LABEL = (
    'mutation { result: setRuntimeLabel(runtimeID: "%s", key: "%s", value: "%s") { key value } }'
)
SET_RUNTIME_SCENARIOS = (
    'mutation { result: setRuntimeLabel(runtimeID: "%s", key: "scenarios", value: ["DEFAULT"]) { key } }'
)
APPLICATIONS = "query { result: applications { data { id } } }"
REGISTER_APPLICATION = 'mutation { result: registerApplication(in: {name: "intruder"}) { id } }'
REQUEST_RUNTIME_TOKEN = 'mutation { result: requestOneTimeTokenForRuntime(id: "%s") { token } }'
VIEWER = "query { result: viewer { id type } }"
UNREGISTER_RUNTIME = "mutation ($id: ID!) { result: unregisterRuntime(id: $id) { id } }"
NONEXISTENT_ID = "00000000-0000-4000-8000-000000000000"


def sign_directly(
    ca: CertificateAuthority, subject: str, directory: Path, *, now: datetime, validity: timedelta
) -> Credentials:
    """A certificate signed by ``ca`` without the Connector: nothing is recorded."""
    key = ec_key()
    csr = x509.CertificateSigningRequestBuilder().subject_name(name_of(subject)).sign(key, hashes.SHA256())
    issued = ca.sign(csr, CertificateSubject.from_compass_string(subject), validity=validity, now=now)
    return Credentials.write(directory, issued.chain_pem.encode(), key)


async def record(connector: Harness, tenant_id: str, client_id: str, credentials: Credentials) -> None:
    """Puts a certificate on record as if the Connector had issued it."""
    certificate = credentials.certificate
    async with connector.database.transaction() as session:
        session.add(
            IssuedCertificate(
                serial=credentials.serial,
                fingerprint_sha256=certificate.fingerprint(hashes.SHA256()).hex(),
                tenant_id=tenant_id,
                system_auth_id=client_id,
                subject=CertificateSubject.from_x509_name(certificate.subject).to_compass_string(),
                not_before=certificate.not_valid_before_utc,
                not_after=certificate.not_valid_after_utc,
            )
        )


# --- certificates the server does not accept --------------------------------------------------------------


# With TLS 1.3 the client has sent its Finished before the server checks the certificate, so the refusal
# shows on the first read; with TLS 1.2 the handshake itself fails. Either way: no HTTP answer.
TLS_VERSIONS = pytest.mark.parametrize(
    ("version", "error"),
    [(ssl.TLSVersion.TLSv1_3, httpx.TransportError), (ssl.TLSVersion.TLSv1_2, httpx.ConnectError)],
    ids=["tls1.3", "tls1.2"],
)


async def assert_handshake_fails(
    connector: Harness,
    runtime: Connected,
    credentials: Credentials,
    version: ssl.TLSVersion,
    error: type[Exception],
) -> None:
    context = client_ssl_context(connector.ca.ca_pem, credentials)
    context.maximum_version = version
    with pytest.raises(error):
        await connector.director(connector.mtls(context=context), RUNTIME % runtime.object_id)
    # the same request with the runtime's own certificate is answered
    answer = await connector.director(connector.mtls(runtime.credentials), RUNTIME % runtime.object_id)
    assert answer.result == {"id": runtime.object_id}


@TLS_VERSIONS
async def test_certificate_of_a_foreign_ca_fails_the_tls_handshake(
    connector: Harness, version: ssl.TLSVersion, error: type[Exception]
) -> None:
    # given: a foreign CA signed a certificate for a real client id
    operator = await connector.operator()
    runtime = await connector.connect_runtime(operator)
    foreign = sign_directly(
        CertificateAuthority.generate(), runtime.subject, connector.directory,
        now=datetime.now(UTC), validity=timedelta(days=1),
    )

    # when / then
    await assert_handshake_fails(connector, runtime, foreign, version, error)


@TLS_VERSIONS
async def test_expired_certificate_fails_the_tls_handshake(
    connector: Harness, version: ssl.TLSVersion, error: type[Exception]
) -> None:
    # given: our CA signed it, it is on record, but it expired nine days ago (TLS checks the real clock)
    operator = await connector.operator()
    runtime = await connector.connect_runtime(operator)
    expired = sign_directly(
        connector.ca, runtime.subject, connector.directory,
        now=datetime.now(UTC) - timedelta(days=10), validity=timedelta(days=1),
    )
    await record(connector, operator.tenant_id, runtime.client_id, expired)

    # when / then
    await assert_handshake_fails(connector, runtime, expired, version, error)


async def test_certificate_never_issued_by_the_connector_is_unauthenticated(connector: Harness) -> None:
    # given: our CA's signature for a real client id, but the certificate is not on record
    operator = await connector.operator()
    runtime = await connector.connect_runtime(operator)
    unrecorded = sign_directly(
        connector.ca, runtime.subject, connector.directory, now=datetime.now(UTC), validity=timedelta(days=1)
    )
    client = connector.mtls(unrecorded)

    # when
    director = await connector.director(client, RUNTIME % runtime.object_id)
    renewal = await connector.connector("query { result: configuration { token { token } } }", client=client)

    # then
    assert director.status == renewal.status == 401
    assert director.codes == renewal.codes == ["UNAUTHENTICATED"]
    assert director.body["data"] is None


async def test_certificate_of_an_unregistered_runtime_is_unauthenticated(connector: Harness) -> None:
    # given
    operator = await connector.operator()
    runtime = await connector.connect_runtime(operator)
    await operator.query(UNREGISTER_RUNTIME, {"id": runtime.object_id})

    # when
    answer = await connector.director(connector.mtls(runtime.credentials), RUNTIME % runtime.object_id)

    # then
    assert answer.codes == ["UNAUTHENTICATED"]


async def test_director_over_https_without_a_certificate_is_unauthenticated(connector: Harness) -> None:
    answer = await connector.director(connector.mtls(None), VIEWER)

    assert answer.codes == ["UNAUTHENTICATED"]


# --- what a runtime may do --------------------------------------------------------------------------------


async def test_viewer_is_the_runtime_of_the_certificate(connector: Harness) -> None:
    # given
    runtime = await connector.connect_runtime(await connector.operator())

    # when
    answer = await connector.director(connector.mtls(runtime.credentials), VIEWER)

    # then
    assert answer.result == {"id": runtime.object_id, "type": "RUNTIME"}


async def test_viewer_is_the_application_of_the_certificate(connector: Harness) -> None:
    application = await connector.connect_application(await connector.operator())

    answer = await connector.director(connector.mtls(application.credentials), VIEWER)

    assert answer.result == {"id": application.object_id, "type": "APPLICATION"}


async def test_runtime_reads_itself(connector: Harness) -> None:
    runtime = await connector.connect_runtime(await connector.operator())

    answer = await connector.director(connector.mtls(runtime.credentials), RUNTIME % runtime.object_id)

    assert answer.result == {"id": runtime.object_id}


OWN_RUNTIME_FIELDS = pytest.mark.parametrize(
    "document", [RUNTIME, APPLICATIONS_FOR_RUNTIME], ids=["runtime", "applicationsForRuntime"]
)


async def refused_like_a_nonexistent_id(
    connector: Harness, runtime: Connected, document: str, other_id: str
) -> Answer:
    client = connector.mtls(runtime.credentials)
    answer = await connector.director(client, document % other_id)
    nonexistent = await connector.director(client, document % NONEXISTENT_ID)
    assert answer.codes == ["FORBIDDEN"]
    assert answer.body == nonexistent.body
    return answer


@OWN_RUNTIME_FIELDS
async def test_runtime_of_another_tenant_is_refused_like_a_nonexistent_one(
    connector: Harness, document: str
) -> None:
    # given: a connected runtime in one tenant, a runtime with an application in another
    runtime = await connector.connect_runtime(await connector.operator())
    other_operator = await connector.operator()
    await connector.register_application(other_operator, scenarios=["DEFAULT"])
    other_id = await connector.register_runtime(other_operator, scenarios=["DEFAULT"])

    # when / then
    answer = await refused_like_a_nonexistent_id(connector, runtime, document, other_id)
    assert other_id not in str(answer.body)


@OWN_RUNTIME_FIELDS
async def test_another_runtime_of_its_own_tenant_is_refused_like_a_nonexistent_one(
    connector: Harness, document: str
) -> None:
    # given
    operator = await connector.operator()
    runtime = await connector.connect_runtime(operator)
    await connector.register_application(operator, scenarios=["DEFAULT"])
    other_id = await connector.register_runtime(operator, scenarios=["DEFAULT"])

    # when / then
    await refused_like_a_nonexistent_id(connector, runtime, document, other_id)


@pytest.mark.parametrize(
    "document",
    [APPLICATIONS, REGISTER_APPLICATION, REQUEST_RUNTIME_TOKEN],
    ids=["applications", "registerApplication", "requestOneTimeTokenForRuntime"],
)
async def test_runtime_certificate_cannot_call_operator_fields(connector: Harness, document: str) -> None:
    # given
    runtime = await connector.connect_runtime(await connector.operator())

    # when: even requestOneTimeTokenForRuntime for itself
    client = connector.mtls(runtime.credentials)
    answer = await connector.director(client, document.replace("%s", runtime.object_id))

    # then
    assert answer.codes == ["FORBIDDEN"]


async def test_runtime_labels_itself(connector: Harness) -> None:
    # given
    runtime = await connector.connect_runtime(await connector.operator())
    client = connector.mtls(runtime.credentials)

    # when: what the Compass Runtime Agent sets
    answer = await connector.director(
        client, SET_RUNTIME_LABEL % (runtime.object_id, "runtime_consoleUrl", "https://console.example.com")
    )

    # then
    assert answer.result == {"key": "runtime_consoleUrl", "value": "https://console.example.com"}


async def test_runtime_cannot_label_another_runtime(connector: Harness) -> None:
    # given
    operator = await connector.operator()
    runtime = await connector.connect_runtime(operator)
    other_id = await connector.register_runtime(operator)

    # when
    client = connector.mtls(runtime.credentials)
    answer = await connector.director(client, SET_RUNTIME_LABEL % (other_id, "a", "b"))

    # then
    assert answer.codes == ["FORBIDDEN"]


async def test_runtime_cannot_change_its_own_formations(connector: Harness) -> None:
    runtime = await connector.connect_runtime(await connector.operator())

    client = connector.mtls(runtime.credentials)
    answer = await connector.director(client, SET_RUNTIME_SCENARIOS % runtime.object_id)

    assert answer.codes == ["FORBIDDEN"]


# --- what an application may do ---------------------------------------------------------------------------


async def test_application_updates_itself_but_not_another(connector: Harness) -> None:
    # given
    operator = await connector.operator()
    application = await connector.connect_application(operator)
    other_id = await connector.register_application(operator)
    client = connector.mtls(application.credentials)

    # when
    itself = await connector.director(client, UPDATE_APPLICATION % (application.object_id, "mine"))
    other = await connector.director(client, UPDATE_APPLICATION % (other_id, "yours"))

    # then
    assert itself.result == {"id": application.object_id, "description": "mine"}
    assert other.codes == ["FORBIDDEN"]


async def test_application_certificate_cannot_act_as_a_runtime(connector: Harness) -> None:
    # given: an application whose id is passed where a runtime id goes
    application = await connector.connect_application(await connector.operator())
    client = connector.mtls(application.credentials)

    # when
    answers = [
        await connector.director(client, document % application.object_id)
        for document in (RUNTIME, APPLICATIONS_FOR_RUNTIME)
    ]

    # then
    assert [answer.codes for answer in answers] == [["FORBIDDEN"], ["FORBIDDEN"]]


async def test_application_of_another_tenant_is_refused(connector: Harness) -> None:
    # given
    application = await connector.connect_application(await connector.operator())
    other_id = await connector.register_application(await connector.operator())

    # when
    answer = await connector.director(connector.mtls(application.credentials), APPLICATION % other_id)

    # then
    assert answer.codes == ["FORBIDDEN"]
    assert answer.body["data"] == {"result": None}
