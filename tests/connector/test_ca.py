"""The certificate authority: creation and reuse on disk, client and server certificates, chains, CRLs."""

from __future__ import annotations

import ipaddress
import stat
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypeVar

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from cryptography.x509.verification import Criticality, ExtensionPolicy, PolicyBuilder, Store

from connector.ca import (
    CAConfigurationError,
    CertificateAuthority,
    CertificateSubject,
    CSRKeyRejectedError,
)
from connector.ca.authority import CA_CERT_FILENAME, CA_DIRECTORY, CA_KEY_FILENAME

NOW = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)
VALIDITY = timedelta(days=90)
CLIENT_ID = "3f1c2f9e-5a6b-4c1d-9e8f-0a1b2c3d4e5f"
SUBJECT = CertificateSubject("Org", "OrgUnit", "Locality", "State", "PL", CLIENT_ID)

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


def make_csr(key: PrivateKey, subject: x509.Name | None = None) -> x509.CertificateSigningRequest:
    return (
        x509.CertificateSigningRequestBuilder()
        .subject_name(subject if subject is not None else SUBJECT.to_x509_name())
        .sign(key, hashes.SHA256())
    )


def ec_csr() -> x509.CertificateSigningRequest:
    return make_csr(ec.generate_private_key(ec.SECP256R1()))


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def ca() -> CertificateAuthority:
    return CertificateAuthority.generate(now=NOW)


E = TypeVar("E", bound=x509.ExtensionType)


def extension(certificate: x509.Certificate, kind: type[E]) -> x509.Extension[E]:
    return certificate.extensions.get_extension_for_class(kind)


def build_ca(
    name: str,
    key: PrivateKey,
    *,
    issuer: x509.Certificate | None,
    issuer_key: PrivateKey | None,
    path_length: int,
) -> x509.Certificate:
    """A root (no issuer) or an intermediate, as an operator's own PKI would have them."""
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    signing_key = issuer_key if issuer_key is not None else key
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer.subject if issuer is not None else subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - timedelta(days=1))
        .not_valid_after(NOW + timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=path_length), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(signing_key.public_key()), critical=False
        )
    )
    return builder.sign(signing_key, hashes.SHA256())


def write_pem(path: Path, *certificates: x509.Certificate) -> Path:
    path.write_bytes(b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certificates))
    return path


def write_key(path: Path, key: PrivateKey) -> Path:
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return path


# --- the generated CA on disk -------------------------------------------------------------------------------


def test_first_start_creates_the_ca_files_with_a_private_key_file(tmp_path: Path) -> None:
    # when
    CertificateAuthority.load_or_create(tmp_path, now=NOW)

    # then
    directory = tmp_path / CA_DIRECTORY
    assert (directory / CA_CERT_FILENAME).is_file()
    assert stat.S_IMODE((directory / CA_KEY_FILENAME).stat().st_mode) == 0o600
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    assert sorted(p.name for p in directory.iterdir() if p.name.endswith(".tmp")) == []


def test_second_start_reuses_the_same_ca(tmp_path: Path) -> None:
    first = CertificateAuthority.load_or_create(tmp_path, now=NOW)

    second = CertificateAuthority.load_or_create(tmp_path, now=NOW + timedelta(days=1))

    assert second.certificate == first.certificate  # the CA checks that its key matches the certificate


def test_processes_starting_together_agree_on_one_ca(tmp_path: Path) -> None:
    # given
    results: list[CertificateAuthority] = []
    barrier = threading.Barrier(4)

    def start() -> None:
        barrier.wait()
        results.append(CertificateAuthority.load_or_create(tmp_path, now=NOW))

    threads = [threading.Thread(target=start) for _ in range(4)]

    # when
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    # then
    assert len({ca.certificate for ca in results}) == 1
    on_disk = x509.load_pem_x509_certificate((tmp_path / CA_DIRECTORY / CA_CERT_FILENAME).read_bytes())
    assert results[0].certificate == on_disk


def test_a_ca_certificate_without_its_key_is_refused(tmp_path: Path) -> None:
    CertificateAuthority.load_or_create(tmp_path, now=NOW)
    (tmp_path / CA_DIRECTORY / CA_KEY_FILENAME).unlink()

    with pytest.raises(CAConfigurationError, match="without"):
        CertificateAuthority.load_or_create(tmp_path, now=NOW)


def test_a_key_left_without_its_certificate_gets_a_certificate(tmp_path: Path) -> None:
    # given: what a crash between writing the key and the certificate leaves
    first = CertificateAuthority.load_or_create(tmp_path, now=NOW)
    (tmp_path / CA_DIRECTORY / CA_CERT_FILENAME).unlink()

    # when
    recovered = CertificateAuthority.load_or_create(tmp_path, now=NOW)

    # then
    assert recovered.certificate.public_key() == first.certificate.public_key()
    assert (tmp_path / CA_DIRECTORY / CA_CERT_FILENAME).read_text() == recovered.ca_pem


def test_generated_ca_is_a_ten_year_ec_p256_root_for_signing_certificates_and_crls(
    ca: CertificateAuthority,
) -> None:
    certificate = ca.certificate

    constraints = extension(certificate, x509.BasicConstraints)
    usage = extension(certificate, x509.KeyUsage)
    assert constraints.critical and constraints.value.ca
    assert usage.critical and usage.value.key_cert_sign and usage.value.crl_sign
    assert extension(certificate, x509.SubjectKeyIdentifier).value.digest
    assert certificate.not_valid_after_utc - NOW == timedelta(days=3650)
    public_key = certificate.public_key()
    assert isinstance(public_key, ec.EllipticCurvePublicKey) and public_key.curve.name == "secp256r1"
    certificate.verify_directly_issued_by(certificate)


# --- client certificates ------------------------------------------------------------------------------------


@pytest.mark.parametrize("key_kind", ["rsa2048", "ec-p256"])
def test_signed_certificate_verifies_against_the_ca(
    ca: CertificateAuthority, rsa_key: rsa.RSAPrivateKey, key_kind: str
) -> None:
    # given
    key: PrivateKey = rsa_key if key_kind == "rsa2048" else ec.generate_private_key(ec.SECP256R1())

    # when
    issued = ca.sign(make_csr(key), SUBJECT, validity=VALIDITY, now=NOW)

    # then
    issued.certificate.verify_directly_issued_by(ca.certificate)
    assert issued.certificate.public_key() == key.public_key()
    assert ca.verify_issued(issued.certificate)


def test_signed_certificate_carries_the_compass_subject_attribute_by_attribute(
    ca: CertificateAuthority,
) -> None:
    issued = ca.sign(ec_csr(), SUBJECT, validity=VALIDITY, now=NOW)

    subject = issued.certificate.subject
    assert [(a.oid, a.value) for a in subject] == [
        (NameOID.ORGANIZATION_NAME, "Org"),
        (NameOID.ORGANIZATIONAL_UNIT_NAME, "OrgUnit"),
        (NameOID.LOCALITY_NAME, "Locality"),
        (NameOID.STATE_OR_PROVINCE_NAME, "State"),
        (NameOID.COUNTRY_NAME, "PL"),
        (NameOID.COMMON_NAME, SUBJECT.common_name),
    ]
    assert CertificateSubject.from_x509_name(subject) == SUBJECT


def test_subject_is_built_from_the_announced_subject_not_copied_from_the_csr(
    ca: CertificateAuthority,
) -> None:
    csr_subject = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, "someone-else"),
            x509.NameAttribute(NameOID.EMAIL_ADDRESS, "x@y"),
        ]
    )

    issued = ca.sign(
        make_csr(ec.generate_private_key(ec.SECP256R1()), csr_subject), SUBJECT, validity=VALIDITY, now=NOW
    )

    assert issued.certificate.subject == SUBJECT.to_x509_name()


def test_signed_certificate_is_for_client_auth_only(ca: CertificateAuthority) -> None:
    issued = ca.sign(ec_csr(), SUBJECT, validity=VALIDITY, now=NOW)

    certificate = issued.certificate
    usage = extension(certificate, x509.KeyUsage)
    assert usage.critical and usage.value.digital_signature
    assert not (usage.value.key_cert_sign or usage.value.crl_sign or usage.value.key_encipherment)
    assert list(extension(certificate, x509.ExtendedKeyUsage).value) == [ExtendedKeyUsageOID.CLIENT_AUTH]
    assert extension(certificate, x509.BasicConstraints).value.ca is False
    authority_key = extension(certificate, x509.AuthorityKeyIdentifier).value
    assert authority_key.key_identifier == extension(ca.certificate, x509.SubjectKeyIdentifier).value.digest
    with pytest.raises(x509.ExtensionNotFound):
        extension(certificate, x509.SubjectAlternativeName)


def test_serials_are_positive_below_2_128_and_differ_between_signings(ca: CertificateAuthority) -> None:
    csr = ec_csr()

    first = ca.sign(csr, SUBJECT, validity=VALIDITY, now=NOW)
    second = ca.sign(csr, SUBJECT, validity=VALIDITY, now=NOW)

    for issued in (first, second):
        assert 0 < issued.serial < 2**128
        assert issued.serial == issued.certificate.serial_number
        assert int(issued.serial_hex, 16) == issued.serial
    assert first.serial != second.serial
    assert first.fingerprint_sha256_hex != second.fingerprint_sha256_hex


def test_validity_starts_a_minute_early_and_lasts_as_asked(ca: CertificateAuthority) -> None:
    issued = ca.sign(ec_csr(), SUBJECT, validity=VALIDITY, now=NOW)

    assert issued.not_before == NOW - timedelta(minutes=1) == issued.certificate.not_valid_before_utc
    assert issued.not_after == NOW + VALIDITY == issued.certificate.not_valid_after_utc


def test_validity_never_outlasts_the_ca(ca: CertificateAuthority) -> None:
    issued = ca.sign(ec_csr(), SUBJECT, validity=timedelta(days=5000), now=NOW)

    assert issued.not_after == ca.certificate.not_valid_after_utc


def test_signing_refuses_a_key_outside_the_policy(ca: CertificateAuthority) -> None:
    csr = make_csr(ec.generate_private_key(ec.SECP256K1()))

    with pytest.raises(CSRKeyRejectedError):
        ca.sign(csr, SUBJECT, validity=VALIDITY, now=NOW)


def test_chain_is_the_client_certificate_followed_by_the_ca(ca: CertificateAuthority) -> None:
    issued = ca.sign(ec_csr(), SUBJECT, validity=VALIDITY, now=NOW)

    chain = x509.load_pem_x509_certificates(issued.chain_pem.encode())
    assert chain == [issued.certificate, ca.certificate]
    assert issued.chain_pem == issued.pem + ca.ca_pem


async def test_sign_async_signs_off_the_event_loop(ca: CertificateAuthority) -> None:
    csr = ec_csr()

    issued = await ca.sign_async(csr, SUBJECT, validity=VALIDITY, now=NOW)

    assert ca.verify_issued(issued.certificate)


def test_verify_issued_refuses_a_certificate_from_another_ca(ca: CertificateAuthority) -> None:
    # same name, other key: only the signature tells them apart
    [common_name] = ca.certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    foreign = CertificateAuthority.generate(now=NOW, common_name=str(common_name.value))
    issued = foreign.sign(ec_csr(), SUBJECT, validity=VALIDITY, now=NOW)

    assert not ca.verify_issued(issued.certificate)


# --- an operator-supplied intermediate CA -------------------------------------------------------------------


@pytest.fixture(scope="module")
def operator_pki() -> tuple[x509.Certificate, x509.Certificate, ec.EllipticCurvePrivateKey]:
    root_key = ec.generate_private_key(ec.SECP384R1())
    root = build_ca("Operator Root", root_key, issuer=None, issuer_key=None, path_length=1)
    intermediate_key = ec.generate_private_key(ec.SECP256R1())
    intermediate = build_ca(
        "Operator Issuing CA", intermediate_key, issuer=root, issuer_key=root_key, path_length=0
    )
    return root, intermediate, intermediate_key


@pytest.mark.parametrize("with_root_in_chain_file", [True, False])
def test_operator_intermediate_ca_returns_its_chain_and_verifies_up_to_the_root(
    tmp_path: Path,
    rsa_key: rsa.RSAPrivateKey,
    operator_pki: tuple[x509.Certificate, x509.Certificate, ec.EllipticCurvePrivateKey],
    with_root_in_chain_file: bool,
) -> None:
    # given
    root, intermediate, intermediate_key = operator_pki
    ca = CertificateAuthority.load_or_create(
        tmp_path,
        cert_file=write_pem(tmp_path / "issuing.crt", intermediate),
        key_file=write_key(tmp_path / "issuing.key", intermediate_key),
        chain_files=[write_pem(tmp_path / "root.crt", root)] if with_root_in_chain_file else [],
        now=NOW,
    )

    # when
    issued = ca.sign(make_csr(rsa_key), SUBJECT, validity=VALIDITY, now=NOW)

    # then
    chain = x509.load_pem_x509_certificates(issued.chain_pem.encode())
    assert chain == [issued.certificate, intermediate, *([root] if with_root_in_chain_file else [])]
    # Compass client certificates carry no subject alternative name, which the Web PKI defaults demand.
    without_san = ExtensionPolicy.webpki_defaults_ee().may_be_present(
        x509.SubjectAlternativeName, Criticality.AGNOSTIC, None
    )
    verifier = (
        PolicyBuilder()
        .store(Store([root]))
        .time(NOW + timedelta(hours=1))
        .extension_policies(ca_policy=ExtensionPolicy.webpki_defaults_ca(), ee_policy=without_san)
        .build_client_verifier()
    )
    verified = verifier.verify(issued.certificate, chain[1:])
    assert verified.chain == [issued.certificate, intermediate, root]
    assert not (tmp_path / CA_DIRECTORY).exists()


def test_operator_ca_certificate_and_key_must_belong_together(
    tmp_path: Path, operator_pki: tuple[x509.Certificate, x509.Certificate, ec.EllipticCurvePrivateKey]
) -> None:
    root, _, intermediate_key = operator_pki

    with pytest.raises(CAConfigurationError, match="does not belong"):
        CertificateAuthority.load_or_create(
            tmp_path,
            cert_file=write_pem(tmp_path / "root.crt", root),
            key_file=write_key(tmp_path / "issuing.key", intermediate_key),
            now=NOW,
        )


def test_operator_chain_file_must_hold_the_issuer_of_the_ca(
    tmp_path: Path, operator_pki: tuple[x509.Certificate, x509.Certificate, ec.EllipticCurvePrivateKey]
) -> None:
    _, intermediate, intermediate_key = operator_pki
    unrelated_root = CertificateAuthority.generate(now=NOW).certificate

    with pytest.raises(CAConfigurationError, match="did not issue"):
        CertificateAuthority.load_or_create(
            tmp_path,
            cert_file=write_pem(tmp_path / "issuing.crt", intermediate),
            key_file=write_key(tmp_path / "issuing.key", intermediate_key),
            chain_files=[write_pem(tmp_path / "root.crt", unrelated_root)],
            now=NOW,
        )


def test_operator_certificate_that_is_not_a_ca_is_refused(tmp_path: Path, ca: CertificateAuthority) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = ca.sign(make_csr(key), SUBJECT, validity=VALIDITY, now=NOW).certificate

    with pytest.raises(CAConfigurationError, match="CA:TRUE"):
        CertificateAuthority.load_or_create(
            tmp_path,
            cert_file=write_pem(tmp_path / "leaf.crt", leaf),
            key_file=write_key(tmp_path / "leaf.key", key),
        )


def test_operator_certificate_file_without_key_file_is_refused(
    tmp_path: Path, ca: CertificateAuthority
) -> None:
    cert_file = write_pem(tmp_path / "ca.crt", ca.certificate)

    with pytest.raises(CAConfigurationError, match="both"):
        CertificateAuthority.load_or_create(tmp_path, cert_file=cert_file)


# --- server certificate and CRL -----------------------------------------------------------------------------


def test_server_certificate_names_every_host_for_server_auth(ca: CertificateAuthority) -> None:
    hosts = ["localhost", "127.0.0.1", "::1", "compass.example.com"]

    credentials = ca.issue_server_certificate(hosts, now=NOW)


    certificate, *chain = x509.load_pem_x509_certificates(credentials.certificate_pem.encode())
    san = extension(certificate, x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["localhost", "compass.example.com"]
    assert san.get_values_for_type(x509.IPAddress) == [
        ipaddress.ip_address("127.0.0.1"),
        ipaddress.ip_address("::1"),
    ]
    assert list(extension(certificate, x509.ExtendedKeyUsage).value) == [ExtendedKeyUsageOID.SERVER_AUTH]
    assert chain == [ca.certificate]
    key = serialization.load_pem_private_key(credentials.key_pem.encode(), password=None)
    assert key.public_key() == certificate.public_key()
    verifier = PolicyBuilder().store(Store([ca.certificate])).time(NOW).build_server_verifier(
        x509.verification.DNSName("localhost")
    )
    verifier.verify(certificate, [])


def test_crl_lists_the_revoked_serials_and_is_signed_by_the_ca(ca: CertificateAuthority) -> None:
    # given
    first = ca.sign(ec_csr(), SUBJECT, validity=VALIDITY, now=NOW)
    second = ca.sign(ec_csr(), SUBJECT, validity=VALIDITY, now=NOW)
    kept = ca.sign(ec_csr(), SUBJECT, validity=VALIDITY, now=NOW)
    revoked = [(first.serial, NOW - timedelta(hours=2)), (second.serial, NOW - timedelta(hours=1))]

    # when
    crl = ca.crl(revoked, now=NOW, next_update=NOW + timedelta(hours=1))

    # then
    issuer_key = ca.certificate.public_key()
    assert isinstance(issuer_key, ec.EllipticCurvePublicKey)
    assert crl.is_signature_valid(issuer_key)
    assert crl.issuer == ca.certificate.subject
    assert {entry.serial_number: entry.revocation_date_utc for entry in crl} == {
        first.serial: NOW - timedelta(hours=2),
        second.serial: NOW - timedelta(hours=1),
    }
    assert crl.get_revoked_certificate_by_serial_number(kept.serial) is None
    assert crl.next_update_utc == NOW + timedelta(hours=1)
