"""X-Forwarded-Client-Cert as Envoy writes it: the oracle of the XFCC tests, from Envoy's documentation.

Envoy's grammar: elements (one per proxy) separated by ``,``; in an element, ``key=value`` pairs separated
by ``;``; keys case-insensitive. A value holding ``,``, ``;``, ``=`` (or ``"``) is double-quoted, and inside
quotes a ``"`` is written ``\\"`` (and so a backslash ``\\\\``). Envoy always quotes ``Cert``, ``Chain`` and
``Subject`` and writes ``By``, ``Hash``, ``URI`` and ``DNS`` bare. This module only serializes; it shares no
code with the parser under test (compass/auth/certificates.py).
"""

from __future__ import annotations

from urllib.parse import quote

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

Pair = tuple[str, str]
ALWAYS_QUOTED = frozenset({"cert", "chain", "subject"})
NEEDS_QUOTES = frozenset(',;="\\ \t')


def value(text: str, *, quoted: bool = False) -> str:
    """One value as Envoy writes it: bare where unambiguous, else quoted with ``"`` and ``\\`` escaped."""
    if not quoted and not NEEDS_QUOTES.intersection(text):
        return text
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def element(pairs: list[Pair], *, quote_all: bool = False) -> str:
    return ";".join(
        f"{key}={value(text, quoted=quote_all or key.lower() in ALWAYS_QUOTED)}" for key, text in pairs
    )


def header(elements: list[list[Pair]]) -> str:
    """What APPEND_FORWARD produces: the elements of the proxies before, and this proxy's own last."""
    return ",".join(element(pairs) for pairs in elements)


def url_encoded_pem(certificate: x509.Certificate) -> str:
    return quote(certificate.public_bytes(serialization.Encoding.PEM).decode(), safe="")


def certificate_pairs(certificate: x509.Certificate, *, subject: bool = False) -> list[Pair]:
    """The pairs Envoy adds for the certificate of the connection it terminated, in Envoy's order, with
    ``set_current_client_cert_details: {cert: true}`` (and ``subject: true, uri: true`` if asked)."""
    pairs = [
        ("By", "spiffe://cluster.local/ns/compass/sa/director"),
        ("Hash", certificate.fingerprint(hashes.SHA256()).hex()),
        ("Cert", url_encoded_pem(certificate)),
    ]
    if subject:
        pairs += [("Subject", certificate.subject.rfc4514_string()), ("URI", "")]
    return pairs
