"""Behind a TLS-terminating proxy: the client certificate in X-Forwarded-Client-Cert, from the proxy only.

The header is Envoy's: ``Hash=<sha256 of DER>;Subject="<RFC 4514>";Cert="<URL-encoded PEM>"``. The server
with ``trusted_proxies=["127.0.0.1"]`` accepts it from 127.0.0.1 and ignores it from 127.0.0.2 (plain HTTP).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import quote

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

from connector.ca import CertificateAuthority, CertificateSubject
from tests.connector.support import (
    CONFIGURATION,
    CONNECTOR,
    DIRECTOR,
    REVOKE,
    Answer,
    Harness,
    HarnessFactory,
    csr_b64,
    ec_key,
    name_of,
    post_graphql,
    sign_document,
)

VIEWER = "query { result: viewer { id type } }"
PROXY = "127.0.0.1"


def xfcc(certificate: x509.Certificate) -> str:
    pem = certificate.public_bytes(serialization.Encoding.PEM).decode()
    digest = certificate.fingerprint(hashes.SHA256()).hex()
    return f'Hash={digest};Subject="{certificate.subject.rfc4514_string()}";Cert="{quote(pem, safe="")}"'


def signed_by(
    ca: CertificateAuthority, subject: str, *, now: datetime, validity: timedelta
) -> x509.Certificate:
    """A certificate signed by ``ca`` without the Connector: nothing is recorded."""
    builder = x509.CertificateSigningRequestBuilder().subject_name(name_of(subject))
    csr = builder.sign(ec_key(), hashes.SHA256())
    issued = ca.sign(csr, CertificateSubject.from_compass_string(subject), validity=validity, now=now)
    return issued.certificate


@pytest.fixture
async def behind_proxy(connector_with: HarnessFactory) -> Harness:
    return await connector_with(trusted_proxies=[PROXY])


async def forwarded(
    harness: Harness, path: str, document: str, header: str, *, source: str = PROXY
) -> Answer:
    client = harness.http if source == PROXY else harness.plain_from(source)
    return await post_graphql(client, path, document, headers={"X-Forwarded-Client-Cert": header})


async def test_certificate_forwarded_by_a_trusted_proxy_authenticates(behind_proxy: Harness) -> None:
    # given
    runtime = await behind_proxy.connect_runtime(await behind_proxy.operator())

    # when
    answer = await forwarded(behind_proxy, DIRECTOR, VIEWER, xfcc(runtime.credentials.certificate))

    # then
    assert answer.result == {"id": runtime.object_id, "type": "RUNTIME"}


async def test_envoy_header_with_by_and_cert_before_subject_authenticates(behind_proxy: Harness) -> None:
    # given: Envoy's own order of keys (By, Hash, Cert, Subject, URI)
    runtime = await behind_proxy.connect_runtime(await behind_proxy.operator())
    certificate = runtime.credentials.certificate
    pem = quote(certificate.public_bytes(serialization.Encoding.PEM).decode(), safe="")
    digest = certificate.fingerprint(hashes.SHA256()).hex()
    header = (
        f"By=spiffe://cluster.local/ns/compass/sa/director;Hash={digest};"
        f'Cert="{pem}";Subject="{certificate.subject.rfc4514_string()}";URI='
    )

    # when
    answer = await forwarded(behind_proxy, DIRECTOR, VIEWER, header)

    # then
    assert answer.result == {"id": runtime.object_id, "type": "RUNTIME"}


async def test_the_element_the_trusted_proxy_appended_is_the_one_that_counts(behind_proxy: Harness) -> None:
    # given: a client smuggles another runtime's certificate as the first element (Envoy's APPEND_FORWARD)
    operator = await behind_proxy.operator()
    victim = await behind_proxy.connect_runtime(operator)
    caller = await behind_proxy.connect_runtime(operator)
    header = f"{xfcc(victim.credentials.certificate)},{xfcc(caller.credentials.certificate)}"

    # when
    answer = await forwarded(behind_proxy, DIRECTOR, VIEWER, header)

    # then
    assert answer.result == {"id": caller.object_id, "type": "RUNTIME"}


async def test_renewal_through_a_trusted_proxy_works(behind_proxy: Harness) -> None:
    # given
    runtime = await behind_proxy.connect_runtime(await behind_proxy.operator())
    header = xfcc(runtime.credentials.certificate)

    # when
    configuration = await forwarded(behind_proxy, CONNECTOR, CONFIGURATION, header)
    subject = configuration.result["certificateSigningRequestInfo"]["subject"]
    signed = await forwarded(behind_proxy, CONNECTOR, sign_document(csr_b64(ec_key(), subject)), header)

    # then
    assert subject == runtime.subject
    assert signed.result["clientCertificate"]


async def test_header_from_an_untrusted_address_is_ignored(behind_proxy: Harness) -> None:
    # given
    runtime = await behind_proxy.connect_runtime(await behind_proxy.operator())

    # when: the same header, sent from 127.0.0.2
    answer = await forwarded(
        behind_proxy, DIRECTOR, VIEWER, xfcc(runtime.credentials.certificate), source="127.0.0.2"
    )

    # then
    assert answer.codes == ["UNAUTHENTICATED"]


async def test_header_is_ignored_without_trusted_proxies(connector: Harness) -> None:
    # given: the default server trusts no proxy
    runtime = await connector.connect_runtime(await connector.operator())

    # when
    director = await forwarded(connector, DIRECTOR, VIEWER, xfcc(runtime.credentials.certificate))
    revoke = await forwarded(connector, CONNECTOR, REVOKE, xfcc(runtime.credentials.certificate))

    # then
    assert director.codes == revoke.codes == ["UNAUTHENTICATED"]
    record = await connector.certificate_record(runtime.credentials.serial)
    assert record is not None and record.revoked_at is None


async def test_forwarded_certificate_of_a_foreign_ca_is_refused(behind_proxy: Harness) -> None:
    # given
    runtime = await behind_proxy.connect_runtime(await behind_proxy.operator())
    foreign = signed_by(
        CertificateAuthority.generate(), runtime.subject, now=datetime.now(UTC), validity=timedelta(days=1)
    )

    # when
    answer = await forwarded(behind_proxy, DIRECTOR, VIEWER, xfcc(foreign))

    # then
    assert answer.codes == ["UNAUTHENTICATED"]
    assert answer.messages == ["the forwarded client certificate was not issued by this CA"]


async def test_forwarded_expired_certificate_is_refused(behind_proxy: Harness) -> None:
    # given
    runtime = await behind_proxy.connect_runtime(await behind_proxy.operator())
    ten_days_ago = datetime.now(UTC) - timedelta(days=10)
    expired = signed_by(behind_proxy.ca, runtime.subject, now=ten_days_ago, validity=timedelta(days=1))

    # when
    answer = await forwarded(behind_proxy, DIRECTOR, VIEWER, xfcc(expired))

    # then
    assert answer.codes == ["UNAUTHENTICATED"]
    assert answer.messages == ["the forwarded client certificate is not valid at this time"]


async def test_forwarded_certificate_never_issued_by_the_connector_is_refused(behind_proxy: Harness) -> None:
    # given
    runtime = await behind_proxy.connect_runtime(await behind_proxy.operator())
    unrecorded = signed_by(
        behind_proxy.ca, runtime.subject, now=datetime.now(UTC), validity=timedelta(days=1)
    )

    # when
    answer = await forwarded(behind_proxy, DIRECTOR, VIEWER, xfcc(unrecorded))

    # then
    assert answer.codes == ["UNAUTHENTICATED"]


async def test_forwarded_revoked_certificate_is_refused(behind_proxy: Harness) -> None:
    # given
    runtime = await behind_proxy.connect_runtime(await behind_proxy.operator())
    header = xfcc(runtime.credentials.certificate)
    assert (await forwarded(behind_proxy, CONNECTOR, REVOKE, header)).result is True

    # when
    answer = await forwarded(behind_proxy, DIRECTOR, VIEWER, header)

    # then
    assert answer.codes == ["CERTIFICATE_REVOKED"]


@pytest.mark.parametrize(
    "header",
    ['Hash=abc;Subject="CN=x"', 'Hash=abc;Cert="not a certificate"', ""],
    ids=["no-cert", "not-pem", "empty"],
)
async def test_malformed_header_is_refused(behind_proxy: Harness, header: str) -> None:
    answer = await forwarded(behind_proxy, DIRECTOR, VIEWER, header)

    assert answer.codes == ["UNAUTHENTICATED"]
