"""CSR validation: what a Compass client sends (base64 of a PEM CSR) is accepted only when exactly right.

One test per refusal, each checking the stable code and that the message says what was wrong.
"""

from __future__ import annotations

import base64
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import NameOID

from connector.ca import (
    CertificateAuthority,
    CertificateSubject,
    CSRError,
    CSRKeyRejectedError,
    CSRSignatureError,
    CSRSubjectMismatchError,
    InvalidCSRError,
    SubjectError,
    check_public_key,
    parse_and_validate_csr,
)

SUBJECT = CertificateSubject("Org", "OrgUnit", "Locality", "State", "PL", "abc")

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey


def attributes(*pairs: tuple[x509.ObjectIdentifier, str]) -> x509.Name:
    return x509.Name([x509.NameAttribute(oid, value) for oid, value in pairs])


COMPASS_ATTRIBUTES = (
    (NameOID.ORGANIZATION_NAME, "Org"),
    (NameOID.ORGANIZATIONAL_UNIT_NAME, "OrgUnit"),
    (NameOID.LOCALITY_NAME, "Locality"),
    (NameOID.STATE_OR_PROVINCE_NAME, "State"),
    (NameOID.COUNTRY_NAME, "PL"),
    (NameOID.COMMON_NAME, "abc"),
)


def make_csr(key: PrivateKey, subject: x509.Name | None = None) -> x509.CertificateSigningRequest:
    algorithm = None if isinstance(key, ed25519.Ed25519PrivateKey) else hashes.SHA256()  # Ed25519 hashes itself
    return (
        x509.CertificateSigningRequestBuilder()
        .subject_name(subject if subject is not None else SUBJECT.to_x509_name())
        .sign(key, algorithm)
    )


def as_b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def csr_b64(csr: x509.CertificateSigningRequest) -> str:
    return as_b64(csr.public_bytes(serialization.Encoding.PEM))


def pem_of_der(der: bytes, label: str = "CERTIFICATE REQUEST") -> bytes:
    body = base64.b64encode(der).decode("ascii")
    lines = [body[i : i + 64] for i in range(0, len(body), 64)]
    return "\n".join([f"-----BEGIN {label}-----", *lines, f"-----END {label}-----", ""]).encode("ascii")


@pytest.fixture(scope="module")
def ec_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def refusal(csr: str, error: type[CSRError], code: str, *, max_bytes: int = 16384) -> str:
    """Validates ``csr``, expects exactly ``error`` with ``code``, and returns the message."""
    with pytest.raises(CSRError) as raised:
        parse_and_validate_csr(csr, SUBJECT, max_bytes=max_bytes)
    assert type(raised.value) is error
    assert raised.value.code == code
    return raised.value.message


# --- accepted -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("key_kind", ["rsa2048", "ec-p256", "ec-p384"])
def test_valid_csr_is_accepted(rsa_key: rsa.RSAPrivateKey, key_kind: str) -> None:
    makers: dict[str, Callable[[], PrivateKey]] = {
        "rsa2048": lambda: rsa_key,
        "ec-p256": lambda: ec.generate_private_key(ec.SECP256R1()),
        "ec-p384": lambda: ec.generate_private_key(ec.SECP384R1()),
    }
    key = makers[key_kind]()
    csr = make_csr(key)

    accepted = parse_and_validate_csr(csr_b64(csr), SUBJECT)

    assert accepted.public_key() == key.public_key()


def test_subject_attributes_in_another_order_are_accepted(ec_key: ec.EllipticCurvePrivateKey) -> None:
    # Go's pkix.Name, which the Compass Runtime Agent uses, puts C first.
    go_order = attributes(*sorted(COMPASS_ATTRIBUTES, key=lambda pair: pair[0] != NameOID.COUNTRY_NAME))

    parse_and_validate_csr(csr_b64(make_csr(ec_key, go_order)), SUBJECT)


def test_base64_wrapped_in_lines_is_accepted(ec_key: ec.EllipticCurvePrivateKey) -> None:
    encoded = csr_b64(make_csr(ec_key))
    wrapped = "\n".join(encoded[i : i + 76] for i in range(0, len(encoded), 76)) + "\n"

    parse_and_validate_csr(wrapped, SUBJECT)


@pytest.mark.skipif(shutil.which("openssl") is None, reason="the openssl command-line tool is not installed")
def test_csr_made_with_the_openssl_command_line_is_accepted(tmp_path: Path) -> None:
    # given: the Compass tutorial's command; -subj keeps the order given
    subprocess.run(
        [
            "openssl", "req", "-new", "-newkey", "rsa:2048", "-nodes", "-sha256",
            "-keyout", str(tmp_path / "client.key"), "-out", str(tmp_path / "client.csr"),
            "-subj", "/O=Org/OU=OrgUnit/L=Locality/ST=State/C=PL/CN=abc",
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip

    # when
    csr = parse_and_validate_csr(as_b64((tmp_path / "client.csr").read_bytes()), SUBJECT)

    # then
    assert CertificateSubject.from_x509_name(csr.subject) == SUBJECT


# --- refused: not a CSR -------------------------------------------------------------------------------------


def test_garbage_base64_is_refused() -> None:
    message = refusal("not base64 at all!", InvalidCSRError, "INVALID_CSR")

    assert "base64" in message


def test_url_safe_base64_is_refused(ec_key: ec.EllipticCurvePrivateKey) -> None:
    # Compass clients use the standard alphabet; "-" and "_" are not part of it.
    pem = make_csr(ec_key).public_bytes(serialization.Encoding.PEM)
    url_safe = base64.urlsafe_b64encode(b"\xfb\xff" * 300 + pem)

    message = refusal(url_safe.decode("ascii"), InvalidCSRError, "INVALID_CSR")

    assert "base64" in message


def test_base64_of_something_that_is_not_pem_is_refused() -> None:
    message = refusal(as_b64(b"hello, I am a certificate, trust me"), InvalidCSRError, "INVALID_CSR")

    assert "not PEM" in message


def test_base64_of_a_der_csr_is_refused_as_not_pem(ec_key: ec.EllipticCurvePrivateKey) -> None:
    der = make_csr(ec_key).public_bytes(serialization.Encoding.DER)

    message = refusal(as_b64(der), InvalidCSRError, "INVALID_CSR")

    assert "not PEM" in message


def test_pem_certificate_instead_of_a_csr_is_refused(ec_key: ec.EllipticCurvePrivateKey) -> None:
    ca = CertificateAuthority.generate()

    message = refusal(as_b64(ca.ca_pem.encode()), InvalidCSRError, "INVALID_CSR")

    assert message == "expected a PEM CERTIFICATE REQUEST, got a PEM CERTIFICATE"


def test_truncated_pem_is_refused(ec_key: ec.EllipticCurvePrivateKey) -> None:
    pem = make_csr(ec_key).public_bytes(serialization.Encoding.PEM)

    message = refusal(as_b64(pem[: len(pem) // 2]), InvalidCSRError, "INVALID_CSR")

    assert "truncated" in message


def test_two_pem_blocks_are_refused(ec_key: ec.EllipticCurvePrivateKey) -> None:
    pem = make_csr(ec_key).public_bytes(serialization.Encoding.PEM)

    message = refusal(as_b64(pem + pem), InvalidCSRError, "INVALID_CSR")

    assert "exactly one PEM block" in message


def test_oversize_base64_is_refused_before_decoding() -> None:
    message = refusal("A" * 40_000, InvalidCSRError, "INVALID_CSR")

    assert "too large" in message


def test_csr_over_the_size_cap_is_refused(ec_key: ec.EllipticCurvePrivateKey) -> None:
    message = refusal(csr_b64(make_csr(ec_key)), InvalidCSRError, "INVALID_CSR", max_bytes=200)

    assert "too large" in message


def test_a_csr_that_is_not_a_string_is_refused() -> None:
    with pytest.raises(InvalidCSRError, match="string"):
        parse_and_validate_csr(b"LS0tLS1CRUdJTg==", SUBJECT)  # type: ignore[arg-type]


# --- refused: signature -------------------------------------------------------------------------------------


def test_csr_whose_signature_does_not_verify_is_refused(ec_key: ec.EllipticCurvePrivateKey) -> None:
    # given: the last byte of the signature (the end of ECDSA's s) flipped; the encoding stays valid
    csr = make_csr(ec_key)
    der = bytearray(csr.public_bytes(serialization.Encoding.DER))
    assert der.endswith(csr.signature)
    der[-1] ^= 0x01

    # when
    message = refusal(as_b64(pem_of_der(bytes(der))), CSRSignatureError, "CSR_SIGNATURE_INVALID")

    # then
    assert "signature does not verify" in message


@pytest.mark.skipif(shutil.which("openssl") is None, reason="the openssl command-line tool is not installed")
def test_csr_signed_with_sha1_is_refused(tmp_path: Path) -> None:
    # cryptography no longer signs with SHA-1, the openssl command line still does
    subprocess.run(
        [
            "openssl", "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
            "-nodes", "-sha1",
            "-keyout", str(tmp_path / "client.key"), "-out", str(tmp_path / "client.csr"),
            "-subj", "/O=Org/OU=OrgUnit/L=Locality/ST=State/C=PL/CN=abc",
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip

    csr = as_b64((tmp_path / "client.csr").read_bytes())

    message = refusal(csr, CSRSignatureError, "CSR_SIGNATURE_INVALID")

    assert message == "CSR is signed with sha1: sign it with SHA-256, SHA-384 or SHA-512"


# --- refused: subject ---------------------------------------------------------------------------------------


def test_wrong_common_name_is_refused_naming_it(ec_key: ec.EllipticCurvePrivateKey) -> None:
    subject = SUBJECT.with_common_name("someone-else").to_x509_name()

    message = refusal(csr_b64(make_csr(ec_key, subject)), CSRSubjectMismatchError, "CSR_SUBJECT_MISMATCH")

    assert message == 'subject CN must be "abc", got "someone-else"'


def test_wrong_organization_is_refused_naming_it(ec_key: ec.EllipticCurvePrivateKey) -> None:
    subject = attributes((NameOID.ORGANIZATION_NAME, "Evil Corp"), *COMPASS_ATTRIBUTES[1:])

    message = refusal(csr_b64(make_csr(ec_key, subject)), CSRSubjectMismatchError, "CSR_SUBJECT_MISMATCH")

    assert message == 'subject O must be "Org", got "Evil Corp"'


def test_extra_attribute_is_refused(ec_key: ec.EllipticCurvePrivateKey) -> None:
    subject = attributes(*COMPASS_ATTRIBUTES, (NameOID.EMAIL_ADDRESS, "admin@example.com"))

    message = refusal(csr_b64(make_csr(ec_key, subject)), CSRSubjectMismatchError, "CSR_SUBJECT_MISMATCH")

    assert message == "subject must not contain email_address"


def test_missing_attribute_is_refused(ec_key: ec.EllipticCurvePrivateKey) -> None:
    subject = attributes(*(pair for pair in COMPASS_ATTRIBUTES if pair[1] != "OrgUnit"))

    message = refusal(csr_b64(make_csr(ec_key, subject)), CSRSubjectMismatchError, "CSR_SUBJECT_MISMATCH")

    assert message == 'subject OU is missing, must be "OrgUnit"'


def test_duplicated_attribute_is_refused(ec_key: ec.EllipticCurvePrivateKey) -> None:
    subject = attributes(*COMPASS_ATTRIBUTES, (NameOID.COMMON_NAME, "abc"))

    message = refusal(csr_b64(make_csr(ec_key, subject)), CSRSubjectMismatchError, "CSR_SUBJECT_MISMATCH")

    assert message == "subject must contain CN once, got it more than once"


def test_multi_valued_attribute_is_refused(ec_key: ec.EllipticCurvePrivateKey) -> None:
    organization, unit, *rest = (x509.NameAttribute(oid, value) for oid, value in COMPASS_ATTRIBUTES)
    subject = x509.Name(
        [
            x509.RelativeDistinguishedName([organization, unit]),
            *(x509.RelativeDistinguishedName([attribute]) for attribute in rest),
        ]
    )

    message = refusal(csr_b64(make_csr(ec_key, subject)), CSRSubjectMismatchError, "CSR_SUBJECT_MISMATCH")

    assert message == "subject must not contain multi-valued attributes (O+OU)"


# --- refused: key -------------------------------------------------------------------------------------------


def test_rsa_1024_key_is_refused_as_too_short() -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=1024)  # noqa: S505 - the key under test

    message = refusal(csr_b64(make_csr(key)), CSRKeyRejectedError, "CSR_KEY_REJECTED")

    assert message == "key too short: RSA 1024 bits, at least 2048 bits required"


def test_rsa_key_above_8192_bits_is_refused_as_too_large() -> None:
    # A real 8200-bit key takes many seconds to generate; the modulus need not be a product of primes here.
    key = rsa.RSAPublicNumbers(65537, (1 << 8199) | 1).public_key()

    with pytest.raises(CSRKeyRejectedError, match="key too large: RSA 8200 bits, at most 8192 bits allowed"):
        check_public_key(key)


@pytest.mark.parametrize("curve", [ec.SECP192R1(), ec.SECP256K1(), ec.SECP521R1()], ids=lambda c: c.name)
def test_ec_curve_other_than_p256_or_p384_is_refused(curve: ec.EllipticCurve) -> None:
    key = ec.generate_private_key(curve)

    message = refusal(csr_b64(make_csr(key)), CSRKeyRejectedError, "CSR_KEY_REJECTED")

    assert message == f"EC curve {curve.name} is not allowed: use P-256 or P-384"


def test_ed25519_key_is_refused() -> None:
    key = ed25519.Ed25519PrivateKey.generate()

    message = refusal(csr_b64(make_csr(key)), CSRKeyRejectedError, "CSR_KEY_REJECTED")

    assert message.startswith("key type Ed25519 is not allowed")


# --- the subject itself -------------------------------------------------------------------------------------


def test_compass_string_lists_the_attributes_in_compass_order() -> None:
    assert SUBJECT.to_compass_string() == "O=Org,OU=OrgUnit,L=Locality,ST=State,C=PL,CN=abc"


def test_compass_string_reads_back_into_the_same_subject() -> None:
    assert CertificateSubject.from_compass_string(SUBJECT.to_compass_string()) == SUBJECT


def test_compass_string_with_an_unknown_attribute_is_refused() -> None:
    with pytest.raises(SubjectError, match="'E=x'"):
        CertificateSubject.from_compass_string("O=Org,OU=OrgUnit,L=Locality,ST=State,C=PL,CN=abc,E=x")


def test_x509_name_is_encoded_in_compass_order_which_rfc4514_prints_reversed() -> None:
    name = SUBJECT.to_x509_name()

    assert [attribute.rfc4514_attribute_name for attribute in name] == ["O", "OU", "L", "ST", "C", "CN"]
    assert name.rfc4514_string() == "CN=abc,C=PL,ST=State,L=Locality,OU=OrgUnit,O=Org"


@pytest.mark.parametrize("value", ["a,b", "a=b", ""])
def test_subject_value_that_would_break_the_compass_string_is_refused(value: str) -> None:
    with pytest.raises(SubjectError):
        SUBJECT.with_common_name(value)
