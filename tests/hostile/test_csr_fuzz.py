"""CSR fuzzing: whatever arrives as a CSR is accepted only when exactly right, and refused with a code otherwise.

The bulk goes straight through ``parse_and_validate_csr`` (random bytes, truncated and mutated PEM, CSRs of every
key type, hash and extension the strategies can make, checked against what the policy says); a few cases go over
HTTP to the Connector with a real signing token. Huge RSA keys are made from known (Mersenne) primes: a real
8,676-bit key in no time, where generating one takes many seconds. test_csr_validation.py has one example per
refusal; this file adds the properties and the HTTP path.
"""

from __future__ import annotations

import base64
import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from ipaddress import IPv4Address
from typing import Any

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connector.ca import CertificateSubject, CSRError, parse_and_validate_csr
from tests.connector.support import name_of
from tests.hostile.support import CONNECTOR, JSON_CONTENT, assert_well_formed, count_case, error_codes
from tests.support import Operator

SUBJECT = CertificateSubject("Org", "OrgUnit", "Locality", "State", "PL", "fuzz-client")
REFUSAL_CODES = frozenset(
    {"INVALID_CSR", "CSR_SIGNATURE_INVALID", "CSR_SUBJECT_MISMATCH", "CSR_KEY_REJECTED"}
)

PrivateKey = (
    rsa.RSAPrivateKey
    | ec.EllipticCurvePrivateKey
    | ed25519.Ed25519PrivateKey
    | ed448.Ed448PrivateKey
    | dsa.DSAPrivateKey
)
# The hashes these tests sign CSRs with (cryptography's alias for what `sign` takes is private).
SigningHash = hashes.SHA224 | hashes.SHA256 | hashes.SHA384 | hashes.SHA512


def csr_settings(max_examples: int) -> Any:
    return settings(
        max_examples=max_examples,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )


def mersenne_rsa_key(p_exponent: int, q_exponent: int) -> rsa.RSAPrivateKey:
    """An RSA key whose primes are the Mersenne primes 2^p-1 and 2^q-1: any size, at once."""
    p, q = (1 << p_exponent) - 1, (1 << q_exponent) - 1
    e = 65537
    d = pow(e, -1, math.lcm(p - 1, q - 1))
    numbers = rsa.RSAPrivateNumbers(
        p,
        q,
        d,
        rsa.rsa_crt_dmp1(d, p),
        rsa.rsa_crt_dmq1(d, q),
        rsa.rsa_crt_iqmp(p, q),
        rsa.RSAPublicNumbers(e, p * q),
    )
    return numbers.private_key(unsafe_skip_rsa_key_validation=True)


@dataclass(frozen=True)
class KeyKind:
    name: str
    allowed: bool
    message: str  # what a refusal says about the key

    def __str__(self) -> str:
        return self.name


KEY_KINDS = [
    KeyKind("rsa-2048", True, ""),
    KeyKind("rsa-7640", True, ""),
    KeyKind("ec-p256", True, ""),
    KeyKind("ec-p384", True, ""),
    KeyKind("rsa-1024", False, "key too short: RSA 1024 bits"),
    KeyKind("rsa-8676", False, "key too large: RSA 8676 bits, at most 8192 bits allowed"),
    KeyKind("ec-p521", False, "EC curve secp521r1 is not allowed"),
    KeyKind("ec-secp256k1", False, "EC curve secp256k1 is not allowed"),
    KeyKind("ed25519", False, "key type Ed25519 is not allowed"),
    KeyKind("ed448", False, "key type Ed448 is not allowed"),
    KeyKind("dsa-2048", False, "key type DSA is not allowed"),
]
REFUSED_KEY_KINDS = [kind for kind in KEY_KINDS if not kind.allowed]


@cache
def key_of(kind: str) -> PrivateKey:
    """One key per kind for the whole run: generating keys is the slow part of making CSRs."""
    makers: dict[str, Callable[[], PrivateKey]] = {
        "rsa-2048": lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048),
        "rsa-7640": lambda: mersenne_rsa_key(3217, 4423),
        "ec-p256": lambda: ec.generate_private_key(ec.SECP256R1()),
        "ec-p384": lambda: ec.generate_private_key(ec.SECP384R1()),
        "rsa-1024": lambda: rsa.generate_private_key(public_exponent=65537, key_size=1024),  # noqa: S505 - weak on purpose: it must be refused
        "rsa-8676": lambda: mersenne_rsa_key(4253, 4423),
        "ec-p521": lambda: ec.generate_private_key(ec.SECP521R1()),
        "ec-secp256k1": lambda: ec.generate_private_key(ec.SECP256K1()),
        "ed25519": ed25519.Ed25519PrivateKey.generate,
        "ed448": ed448.Ed448PrivateKey.generate,
        "dsa-2048": lambda: dsa.generate_private_key(key_size=2048),
    }
    return makers[kind]()


EXTENSIONS: list[tuple[x509.ExtensionType, bool]] = [
    (
        x509.SubjectAlternativeName(
            [
                x509.DNSName("director.evil.example"),
                x509.IPAddress(IPv4Address("10.0.0.1")),
                x509.UniformResourceIdentifier("spiffe://evil/admin"),
            ]
        ),
        False,
    ),
    (x509.BasicConstraints(ca=True, path_length=None), True),
    (
        x509.KeyUsage(
            digital_signature=True,
            content_commitment=False,
            key_encipherment=True,
            data_encipherment=False,
            key_agreement=False,
            key_cert_sign=True,
            crl_sign=True,
            encipher_only=False,
            decipher_only=False,
        ),
        True,
    ),
    (x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CODE_SIGNING]), False),
]


def make_csr(
    key: PrivateKey,
    subject: x509.Name,
    *,
    algorithm: SigningHash | None = None,
    extensions: list[tuple[x509.ExtensionType, bool]] | None = None,
) -> bytes:
    builder = x509.CertificateSigningRequestBuilder().subject_name(subject)
    for extension, critical in extensions or []:
        builder = builder.add_extension(extension, critical=critical)
    if isinstance(key, (ed25519.Ed25519PrivateKey, ed448.Ed448PrivateKey)):
        algorithm = None
    else:
        algorithm = algorithm or hashes.SHA256()
    return builder.sign(key, algorithm).public_bytes(serialization.Encoding.PEM)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def outcome(csr: str) -> str:
    """The code of the refusal, or "accepted"; any other exception fails the test that asked."""
    try:
        parse_and_validate_csr(csr, SUBJECT)
    except CSRError as error:
        refusal = error
    else:
        return "accepted"
    assert refusal.code in REFUSAL_CODES, refusal
    assert refusal.message, refusal
    return refusal.code


@cache
def valid_pem() -> bytes:
    return make_csr(key_of("ec-p256"), SUBJECT.to_x509_name())


# --- straight through the validator ---------------------------------------------------------------------


# 200: no random bytes are a signed CSR; what varies is where the decoders give up (base64, PEM, DER), and each of
# those is reached by many of 200 cases, half of them base64-encoded.
@csr_settings(200)
@given(data=st.binary(max_size=3000), encode=st.booleans())
def test_random_bytes_are_refused_as_invalid(data: bytes, encode: bool) -> None:
    count_case("csr: random bytes", "validator")
    csr = b64(data) if encode else data.decode("latin-1")

    assert outcome(csr) == "INVALID_CSR"


@csr_settings(300)
@given(cut=st.integers(min_value=0, max_value=10_000))
def test_truncated_pem_is_refused_as_invalid_unless_only_the_final_newline_is_missing(cut: int) -> None:
    pem = valid_pem()
    truncated = pem[: cut % len(pem)]
    count_case("csr: truncated PEM", "validator")

    expected = "accepted" if truncated == pem.rstrip(b"\n") else "INVALID_CSR"
    assert outcome(b64(truncated)) == expected


# 300: one to four bytes changed per case in a DER of a few hundred bytes: every region of it (the subject, the
# key, the signature, the lengths) is hit in dozens of cases.
@csr_settings(300)
@given(data=st.data())
def test_a_mutated_csr_is_accepted_only_if_it_still_says_the_same(data: st.DataObject) -> None:
    der = bytearray(x509.load_pem_x509_csr(valid_pem()).public_bytes(serialization.Encoding.DER))
    for _ in range(data.draw(st.integers(min_value=1, max_value=4), label="mutations")):
        at = data.draw(st.integers(min_value=0, max_value=len(der) - 1), label="at")
        der[at] = data.draw(st.integers(min_value=0, max_value=255), label="byte")
    pem = (
        b"-----BEGIN CERTIFICATE REQUEST-----\n"
        + base64.encodebytes(bytes(der))
        + b"-----END CERTIFICATE REQUEST-----\n"
    )
    count_case("csr: mutated DER", "validator")

    result = outcome(b64(pem))

    if result == "accepted":
        # Only a change the signature does not cover (or that leaves the meaning equal) can pass.
        accepted = x509.load_pem_x509_csr(pem)
        assert accepted.is_signature_valid
        assert accepted.public_key() == key_of("ec-p256").public_key()
        assert CertificateSubject.from_x509_name(accepted.subject) == SUBJECT


SUBJECT_CHANGES = st.sampled_from(["none", "common name", "extra attribute", "missing attribute"])
HASHES = st.sampled_from(["sha256", "sha384", "sha512", "sha224"])


def subject_with(change: str) -> x509.Name:
    if change == "common name":
        return SUBJECT.with_common_name("someone-else").to_x509_name()
    attributes = list(SUBJECT.to_x509_name())
    if change == "extra attribute":
        attributes.append(x509.NameAttribute(NameOID.EMAIL_ADDRESS, "admin@evil.example"))
    if change == "missing attribute":
        attributes = attributes[1:]
    return x509.Name(attributes)


@csr_settings(150)
@given(
    kind=st.sampled_from(KEY_KINDS),
    hash_name=HASHES,
    change=SUBJECT_CHANGES,
    extensions=st.lists(st.sampled_from(EXTENSIONS), unique_by=lambda pair: pair[0].oid, max_size=4),
)
def test_a_well_formed_csr_is_accepted_exactly_when_key_hash_and_subject_are_right(
    kind: KeyKind, hash_name: str, change: str, extensions: list[tuple[x509.ExtensionType, bool]]
) -> None:
    # given
    algorithm: dict[str, SigningHash] = {
        "sha256": hashes.SHA256(),
        "sha384": hashes.SHA384(),
        "sha512": hashes.SHA512(),
        "sha224": hashes.SHA224(),
    }
    pem = make_csr(
        key_of(kind.name), subject_with(change), algorithm=algorithm[hash_name], extensions=extensions
    )
    count_case("csr: generated CSRs", "validator")
    signs_with_a_hash = not kind.name.startswith("ed")
    # then: the checks in their documented order, the extensions asked for playing no part
    if not kind.allowed:
        expected = "CSR_KEY_REJECTED"
    elif signs_with_a_hash and hash_name == "sha224":
        expected = "CSR_SIGNATURE_INVALID"
    elif change != "none":
        expected = "CSR_SUBJECT_MISMATCH"
    else:
        expected = "accepted"
    assert outcome(b64(pem)) == expected


@pytest.mark.parametrize("kind", REFUSED_KEY_KINDS, ids=str)
def test_each_refused_key_is_named_in_the_refusal(kind: KeyKind) -> None:
    with pytest.raises(CSRError) as refusal:
        parse_and_validate_csr(b64(make_csr(key_of(kind.name), SUBJECT.to_x509_name())), SUBJECT)

    assert refusal.value.code == "CSR_KEY_REJECTED"
    assert refusal.value.message.startswith(kind.message)


# --- over HTTP, with a real signing token ---------------------------------------------------------------

REGISTER_RUNTIME = 'mutation { result: registerRuntime(in: {name: "csr-fuzz"}) { id } }'
REQUEST_TOKEN = "mutation ($id: ID!) { result: requestOneTimeTokenForRuntime(id: $id) { token } }"
CONFIGURATION = "{ result: configuration { token { token } certificateSigningRequestInfo { subject } } }"
SIGN = "mutation ($csr: String!) { result: signCertificateSigningRequest(csr: $csr) { clientCertificate } }"


@dataclass(frozen=True)
class Signing:
    """A runtime halfway through connecting: the announced subject, and the token for the signing call."""

    client: httpx.AsyncClient
    subject: str
    token: str

    async def sign(self, csr: str) -> httpx.Response:
        response = await self.client.post(
            CONNECTOR,
            json={"query": SIGN, "variables": {"csr": csr}},
            headers={**JSON_CONTENT, "Connector-Token": self.token},
        )
        assert_well_formed(response)
        return response


@pytest.fixture
async def signing(attacker: Operator, hostile_client: httpx.AsyncClient) -> Signing:
    runtime_id = (await attacker.query(REGISTER_RUNTIME))["result"]["id"]
    token = (await attacker.query(REQUEST_TOKEN, {"id": runtime_id}))["result"]["token"]
    response = await hostile_client.post(
        CONNECTOR, json={"query": CONFIGURATION}, headers={"Connector-Token": token}
    )
    configuration = response.json()["data"]["result"]
    return Signing(
        hostile_client,
        configuration["certificateSigningRequestInfo"]["subject"],
        configuration["token"]["token"],
    )


def refused_csr(case: str, subject: str) -> str:
    if case == "random bytes":
        return b64(bytes(range(256)) * 4)
    if case == "truncated PEM":
        pem = make_csr(key_of("ec-p256"), name_of(subject))
        return b64(pem[: len(pem) * 2 // 3])
    return b64(make_csr(key_of(case), name_of(subject)))


HTTP_REFUSALS = [
    ("random bytes", "INVALID_CSR", "CSR is not PEM"),
    ("truncated PEM", "INVALID_CSR", "CSR PEM is truncated"),
    *((kind.name, "CSR_KEY_REJECTED", kind.message) for kind in REFUSED_KEY_KINDS),
]


@pytest.mark.parametrize(
    ("case", "code", "message"), HTTP_REFUSALS, ids=[case for case, _, _ in HTTP_REFUSALS]
)
async def test_the_connector_refuses_a_bad_csr_with_its_code_and_keeps_the_token(
    signing: Signing, case: str, code: str, message: str
) -> None:
    # when
    refused = await signing.sign(refused_csr(case, signing.subject))
    # then
    assert error_codes(refused) == [code]
    assert refused.json()["errors"][0]["message"].startswith(message)
    accepted = await signing.sign(b64(make_csr(key_of("ec-p256"), name_of(signing.subject))))
    assert accepted.json()["data"]["result"]["clientCertificate"]


async def test_extensions_asked_for_in_the_csr_do_not_reach_the_certificate(signing: Signing) -> None:
    # given: a CSR asking for alternative names, a CA certificate, certificate signing and server auth
    csr = make_csr(key_of("ec-p256"), name_of(signing.subject), extensions=EXTENSIONS)

    # when
    response = await signing.sign(b64(csr))

    # then
    pem = base64.b64decode(response.json()["data"]["result"]["clientCertificate"])
    certificate = x509.load_pem_x509_certificate(pem)
    extensions = {extension.oid for extension in certificate.extensions}
    assert x509.SubjectAlternativeName.oid not in extensions
    assert certificate.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is False
    usage = certificate.extensions.get_extension_for_class(x509.KeyUsage).value
    assert (usage.key_cert_sign, usage.crl_sign, usage.key_encipherment) == (False, False, False)
    assert list(certificate.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value) == [
        ExtendedKeyUsageOID.CLIENT_AUTH
    ]


async def test_an_rsa_key_under_8192_bits_is_accepted_over_http(signing: Signing) -> None:
    response = await signing.sign(b64(make_csr(key_of("rsa-7640"), name_of(signing.subject))))

    certificate = x509.load_pem_x509_certificate(
        base64.b64decode(response.json()["data"]["result"]["clientCertificate"])
    )
    assert certificate.public_key().key_size == 7640  # type: ignore[union-attr]
