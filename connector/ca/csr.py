"""Reading and checking the CSR a Compass client sends: base64 (standard alphabet) of one PEM CSR.

Every refusal is a ``CSRError`` with a stable code and a message that says what was wrong; nothing the client
sends reaches the signer unchecked. Checks run cheapest first: size, encoding, parsing, key policy, signature
(proof that the client holds the key), subject. Extensions and attributes the CSR asks for are ignored: the
certificate is built from scratch by ``CertificateAuthority.sign``.
"""

from __future__ import annotations

import base64
import binascii
import re

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.types import PublicKeyTypes

from connector.ca.subject import CertificateSubject
from kernel.errors import CompassError

DEFAULT_MAX_CSR_BYTES = 16384
MIN_RSA_BITS = 2048
# Above this, verifying the CSR and every later TLS handshake gets needlessly expensive; no client needs more.
MAX_RSA_BITS = 8192
ALLOWED_CURVES = frozenset({ec.SECP256R1.name, ec.SECP384R1.name})
_CURVE_LABELS = {ec.SECP256R1.name: "P-256", ec.SECP384R1.name: "P-384"}
_ALLOWED_SIGNATURE_HASHES = frozenset({hashes.SHA256.name, hashes.SHA384.name, hashes.SHA512.name})
_PEM_BEGIN = re.compile(rb"-----BEGIN ([A-Z0-9 ]+)-----")
_CSR_PEM_LABELS = frozenset({b"CERTIFICATE REQUEST", b"NEW CERTIFICATE REQUEST"})
_WHITESPACE = re.compile(r"\s+")
_KEY_TYPE_LABELS: tuple[tuple[type, str], ...] = (
    (dsa.DSAPublicKey, "DSA"),
    (ed25519.Ed25519PublicKey, "Ed25519"),
    (ed448.Ed448PublicKey, "Ed448"),
)


class CSRError(CompassError):
    """The CSR was refused; ``code`` says which check failed."""

    code = "INVALID_CSR"
    http_status = 400


class InvalidCSRError(CSRError):
    """Not base64, not PEM, not a CSR, unparsable or too large."""

    code = "INVALID_CSR"


class CSRSignatureError(CSRError):
    """The CSR is not signed by the key it carries (or with a hash too weak to count as proof)."""

    code = "CSR_SIGNATURE_INVALID"


class CSRSubjectMismatchError(CSRError):
    code = "CSR_SUBJECT_MISMATCH"


class CSRKeyRejectedError(CSRError):
    """Key type, size or curve outside the policy: RSA 2048..8192 bits, or EC P-256/P-384."""

    code = "CSR_KEY_REJECTED"


def check_public_key(key: PublicKeyTypes) -> None:
    """Refuse keys outside the policy (RSA 2048..8192 bits, EC P-256 or P-384), naming the key."""
    if isinstance(key, rsa.RSAPublicKey):
        if key.key_size < MIN_RSA_BITS:
            raise CSRKeyRejectedError(
                f"key too short: RSA {key.key_size} bits, at least {MIN_RSA_BITS} bits required"
            )
        if key.key_size > MAX_RSA_BITS:
            raise CSRKeyRejectedError(
                f"key too large: RSA {key.key_size} bits, at most {MAX_RSA_BITS} bits allowed"
            )
        return
    if isinstance(key, ec.EllipticCurvePublicKey):
        if key.curve.name not in ALLOWED_CURVES:
            raise CSRKeyRejectedError(f"EC curve {key.curve.name} is not allowed: use P-256 or P-384")
        return
    raise CSRKeyRejectedError(
        f"key type {_key_type_label(key)} is not allowed: "
        f"use RSA (at least {MIN_RSA_BITS} bits) or EC P-256/P-384"
    )


def describe_public_key(key: PublicKeyTypes) -> str:
    """A short label such as ``RSA 2048`` or ``EC P-256``, for logs and audit records."""
    if isinstance(key, rsa.RSAPublicKey):
        return f"RSA {key.key_size}"
    if isinstance(key, ec.EllipticCurvePublicKey):
        return f"EC {_CURVE_LABELS.get(key.curve.name, key.curve.name)}"
    return _key_type_label(key)


def _key_type_label(key: object) -> str:
    for key_type, label in _KEY_TYPE_LABELS:
        if isinstance(key, key_type):
            return label
    return type(key).__name__


def decode_csr_pem(csr_b64: str, *, max_bytes: int = DEFAULT_MAX_CSR_BYTES) -> bytes:
    """The PEM bytes inside the client's base64; whitespace (line wrapping by ``base64``) is tolerated."""
    if not isinstance(csr_b64, str):
        raise InvalidCSRError("CSR must be a base64 string")
    # Bound the work before decoding: base64 grows 4/3, plus generous room for line breaks.
    if len(csr_b64) > 2 * max_bytes:
        raise InvalidCSRError(f"CSR too large: at most {max_bytes} bytes of PEM are accepted")
    compact = _WHITESPACE.sub("", csr_b64)
    if not compact:
        raise InvalidCSRError("CSR is empty")
    try:
        pem = base64.b64decode(compact, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidCSRError("CSR is not valid base64 (standard alphabet with padding)") from None
    if len(pem) > max_bytes:
        raise InvalidCSRError(f"CSR too large: {len(pem)} bytes of PEM, at most {max_bytes} accepted")
    return pem


def load_csr_pem(pem: bytes) -> x509.CertificateSigningRequest:
    """Exactly one PEM block labelled CERTIFICATE REQUEST, parsed; InvalidCSRError otherwise."""
    labels = _PEM_BEGIN.findall(pem)
    if not labels:
        raise InvalidCSRError("CSR is not PEM: expected base64 of '-----BEGIN CERTIFICATE REQUEST-----'")
    if len(labels) > 1:
        raise InvalidCSRError(f"CSR must contain exactly one PEM block, got {len(labels)}")
    if labels[0] not in _CSR_PEM_LABELS:
        label = labels[0].decode("ascii")
        raise InvalidCSRError(f"expected a PEM CERTIFICATE REQUEST, got a PEM {label}")
    try:
        csr = x509.load_pem_x509_csr(pem)
        # Touch the lazily parsed parts so malformed contents fail here, not halfway through the checks.
        csr.subject  # noqa: B018
        csr.public_key()
    except UnsupportedAlgorithm:
        raise CSRKeyRejectedError(
            f"key type is not supported: use RSA (at least {MIN_RSA_BITS} bits) or EC P-256/P-384"
        ) from None
    # cryptography says "malformed" in three ways: ValueError, InvalidVersion (a version byte other than 0) and
    # TypeError (a name attribute of a type its OID does not allow); all three are the client's bad CSR.
    except (ValueError, TypeError, x509.InvalidVersion):
        raise InvalidCSRError("CSR PEM is truncated or not a valid certificate signing request") from None
    return csr


def check_signature(csr: x509.CertificateSigningRequest) -> None:
    try:
        algorithm = csr.signature_hash_algorithm
    except UnsupportedAlgorithm:
        raise CSRSignatureError("CSR signature algorithm is not supported") from None
    if algorithm is None or algorithm.name not in _ALLOWED_SIGNATURE_HASHES:
        name = algorithm.name if algorithm is not None else "none"
        raise CSRSignatureError(f"CSR is signed with {name}: sign it with SHA-256, SHA-384 or SHA-512")
    try:
        valid = csr.is_signature_valid
    except (UnsupportedAlgorithm, ValueError):
        valid = False
    if not valid:
        raise CSRSignatureError("CSR signature does not verify: it was not signed by the key it contains")


def parse_and_validate_csr(
    csr_b64: str, expected: CertificateSubject, *, max_bytes: int = DEFAULT_MAX_CSR_BYTES
) -> x509.CertificateSigningRequest:
    """The CSR a Compass client sent, once well-formed, self-signed, within key policy and for ``expected``.

    Raises a ``CSRError`` subclass: ``InvalidCSRError`` (INVALID_CSR), ``CSRKeyRejectedError``
    (CSR_KEY_REJECTED), ``CSRSignatureError`` (CSR_SIGNATURE_INVALID) or ``CSRSubjectMismatchError``
    (CSR_SUBJECT_MISMATCH).
    """
    csr = load_csr_pem(decode_csr_pem(csr_b64, max_bytes=max_bytes))
    check_public_key(csr.public_key())
    check_signature(csr)
    problem = expected.difference(csr.subject)
    if problem is not None:
        raise CSRSubjectMismatchError(problem)
    return csr
