"""signCertificateSigningRequest over HTTP: every bad CSR is refused with a code and a message naming the
problem, and a good one becomes a client certificate for exactly the announced subject."""

from __future__ import annotations

from datetime import timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from tests.connector.support import (
    Announcement,
    Answer,
    Harness,
    HarnessFactory,
    PrivateKey,
    b64,
    csr_b64,
    csr_pem,
    ec_key,
    name_of,
    rsa_key,
    unb64,
)


async def announced(connector: Harness) -> Announcement:
    """A fresh runtime's configuration: the subject its CSR must carry and the token for the signing call."""
    operator = await connector.operator()
    runtime_id = await connector.register_runtime(operator)
    return await connector.announce(await connector.runtime_token(operator, runtime_id))


async def sign(connector: Harness, announcement: Announcement, csr: str) -> Answer:
    return await connector.sign(announcement, csr)


def certificates(answer: Answer, field: str = "certificateChain") -> list[x509.Certificate]:
    return x509.load_pem_x509_certificates(unb64(answer.result[field]))


# --- refusals -----------------------------------------------------------------------------------------------


async def test_csr_for_another_client_id_is_refused(connector: Harness) -> None:
    # given
    announcement = await announced(connector)
    foreign = announcement.subject.replace(announcement.client_id, "another-client")

    # when
    answer = await sign(connector, announcement, csr_b64(ec_key(), foreign))

    # then
    assert answer.codes == ["CSR_SUBJECT_MISMATCH"]
    assert answer.messages == [f'subject CN must be "{announcement.client_id}", got "another-client"']
    assert answer.body["data"] is None


async def test_csr_with_another_organization_is_refused(connector: Harness) -> None:
    # given
    announcement = await announced(connector)
    evil = announcement.subject.replace("O=Org,", "O=Evil,")

    # when
    answer = await sign(connector, announcement, csr_b64(ec_key(), evil))

    # then
    assert answer.codes == ["CSR_SUBJECT_MISMATCH"]
    assert answer.messages == ['subject O must be "Org", got "Evil"']


async def test_csr_with_an_extra_attribute_is_refused(connector: Harness) -> None:
    # given
    announcement = await announced(connector)
    email = x509.NameAttribute(NameOID.EMAIL_ADDRESS, "a@example.com")
    name = x509.Name([*name_of(announcement.subject), email])

    # when
    answer = await sign(connector, announcement, csr_b64(ec_key(), name))

    # then
    assert answer.codes == ["CSR_SUBJECT_MISMATCH"]
    assert answer.messages == ["subject must not contain email_address"]


async def test_csr_with_a_short_rsa_key_is_refused(connector: Harness) -> None:
    # given
    announcement = await announced(connector)

    # when
    answer = await sign(connector, announcement, csr_b64(rsa_key(1024), announcement.subject))

    # then
    assert answer.codes == ["CSR_KEY_REJECTED"]
    assert answer.messages == ["key too short: RSA 1024 bits, at least 2048 bits required"]


async def test_csr_with_a_curve_outside_the_policy_is_refused(connector: Harness) -> None:
    # given
    announcement = await announced(connector)

    # when
    key = ec.generate_private_key(ec.SECP521R1())
    answer = await sign(connector, announcement, csr_b64(key, announcement.subject))

    # then
    assert answer.codes == ["CSR_KEY_REJECTED"]
    assert "secp521r1" in answer.messages[0]


async def test_garbage_instead_of_base64_is_refused(connector: Harness) -> None:
    # given
    announcement = await announced(connector)

    # when
    answer = await sign(connector, announcement, "this is not base64!")

    # then
    assert answer.codes == ["INVALID_CSR"]
    assert "base64" in answer.messages[0]


async def test_base64_of_something_else_than_a_csr_is_refused(connector: Harness) -> None:
    # given
    announcement = await announced(connector)

    # when
    answer = await sign(connector, announcement, b64(b"hello, connector"))

    # then
    assert answer.codes == ["INVALID_CSR"]
    assert "not PEM" in answer.messages[0]


async def test_csr_whose_signature_does_not_verify_is_refused(connector: Harness) -> None:
    # given: a CSR signed for a neighbouring client id, then edited to name the announced one
    announcement = await announced(connector)
    client_id = announcement.client_id
    neighbour = client_id[:-1] + ("0" if client_id[-1] != "0" else "1")
    signed_for_neighbour = x509.load_pem_x509_csr(
        csr_pem(ec_key(), announcement.subject.replace(client_id, neighbour))
    ).public_bytes(serialization.Encoding.DER)
    edited = signed_for_neighbour.replace(neighbour.encode(), client_id.encode())
    tampered = x509.load_der_x509_csr(edited)
    assert name_of(announcement.subject) == tampered.subject

    # when
    answer = await sign(connector, announcement, b64(tampered.public_bytes(serialization.Encoding.PEM)))

    # then
    assert answer.codes == ["CSR_SIGNATURE_INVALID"]
    assert answer.messages == ["CSR signature does not verify: it was not signed by the key it contains"]


async def test_oversize_csr_is_refused(connector: Harness) -> None:
    # given: a real, well-signed CSR carrying 500 DNS names (about 20 KiB of PEM, the cap is 16 KiB)
    announcement = await announced(connector)
    names = [x509.DNSName(f"host-{index:04d}.connector.example.com") for index in range(500)]
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(name_of(announcement.subject))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .sign(ec_key(), hashes.SHA256())
    )
    pem = csr.public_bytes(serialization.Encoding.PEM)
    assert len(pem) > connector.settings.max_csr_bytes

    # when
    answer = await sign(connector, announcement, b64(pem))

    # then
    assert answer.codes == ["INVALID_CSR"]
    assert answer.messages[0].startswith("CSR too large")


# --- the certificate ----------------------------------------------------------------------------------------


async def signed_certificate(
    connector: Harness, key: PrivateKey | None = None
) -> tuple[Announcement, Answer]:
    announcement = await announced(connector)
    return announcement, await sign(connector, announcement, csr_b64(key or ec_key(), announcement.subject))


async def test_certificate_is_for_client_authentication_only(connector: Harness) -> None:
    # when
    _, answer = await signed_certificate(connector)

    # then
    certificate = certificates(answer, "clientCertificate")[0]
    extensions = certificate.extensions
    extended_usage = extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(extended_usage) == [ExtendedKeyUsageOID.CLIENT_AUTH]
    usage = extensions.get_extension_for_class(x509.KeyUsage)
    assert usage.critical and usage.value.digital_signature and not usage.value.key_cert_sign
    assert extensions.get_extension_for_class(x509.BasicConstraints).value.ca is False


async def test_certificate_subject_is_the_announced_one_in_compass_order(connector: Harness) -> None:
    # given: a CSR with the attributes in Go's pkix order (C first, CN last), as the Compass agent sends
    announcement = await announced(connector)
    reordered = x509.Name(sorted(name_of(announcement.subject), key=lambda a: a.oid != NameOID.COUNTRY_NAME))

    # when
    answer = await sign(connector, announcement, csr_b64(ec_key(), reordered))

    # then
    certificate = certificates(answer, "clientCertificate")[0]
    attributes = [attribute.rfc4514_string() for attribute in certificate.subject]
    assert attributes == announcement.subject.split(",")


async def test_serial_is_random_below_two_to_the_128(connector: Harness) -> None:
    # when
    serials = [certificates((await signed_certificate(connector))[1])[0].serial_number for _ in range(3)]

    # then
    assert len(set(serials)) == 3
    assert all(0 < serial < 2**128 for serial in serials)


async def test_validity_follows_the_setting(connector_with: HarnessFactory) -> None:
    # given
    connector = await connector_with(certificate_validity_days=30)

    # when
    _, answer = await signed_certificate(connector)

    # then: 30 days, from one minute before signing (clock skew allowance)
    certificate = certificates(answer, "clientCertificate")[0]
    assert certificate.not_valid_after_utc - certificate.not_valid_before_utc == timedelta(days=30, minutes=1)


async def test_certificate_is_valid_ninety_days_by_default(connector: Harness) -> None:
    _, answer = await signed_certificate(connector)

    certificate = certificates(answer, "clientCertificate")[0]
    assert certificate.not_valid_after_utc - certificate.not_valid_before_utc == timedelta(days=90, minutes=1)


async def test_chain_is_the_client_certificate_then_the_ca(connector: Harness) -> None:
    # when
    _, answer = await signed_certificate(connector)

    # then
    client, ca = certificates(answer)
    assert certificates(answer, "clientCertificate") == [client]
    assert certificates(answer, "caCertificate") == [ca]
    client.verify_directly_issued_by(ca)  # raises if the CA did not sign it
    assert ca == connector.ca.certificate


async def test_larger_rsa_and_ec_p384_keys_are_accepted(connector: Harness) -> None:
    for key in (rsa_key(3072), ec.generate_private_key(ec.SECP384R1())):
        # when
        _, answer = await signed_certificate(connector, key)

        # then
        assert certificates(answer, "clientCertificate")[0].public_key() == key.public_key()


async def test_issued_certificate_is_recorded(connector: Harness) -> None:
    # when
    announcement, answer = await signed_certificate(connector)

    # then
    certificate = certificates(answer, "clientCertificate")[0]
    record = await connector.certificate_record(f"{certificate.serial_number:032x}")
    assert record is not None
    assert (record.system_auth_id, record.subject) == (announcement.client_id, announcement.subject)
    assert record.fingerprint_sha256 == certificate.fingerprint(hashes.SHA256()).hex()
    assert (record.not_after, record.revoked_at) == (certificate.not_valid_after_utc, None)
    [event] = await connector.audit("certificate_issued", client_id=announcement.client_id)
    assert event.serial == record.serial
